package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"golang.org/x/crypto/ssh"
)

// objectWith is a value of object type t with the given attributes set and
// every other attribute null.
func objectWith(t tftypes.Object, set map[string]tftypes.Value) tftypes.Value {
	vals := map[string]tftypes.Value{}
	for name, at := range t.AttributeTypes {
		if v, ok := set[name]; ok {
			vals[name] = v
		} else {
			vals[name] = tftypes.NewValue(at, nil)
		}
	}
	return tftypes.NewValue(t, vals)
}

// A bad SSH port, of the nodes or of the bastion, is an error on its own
// attribute when the provider is configured (nothing is dialled).
func TestProviderSSHPortValidation(t *testing.T) {
	ctx := context.Background()
	p := &erawanProvider{}
	var sr provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &sr)
	root := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	sshT := root.AttributeTypes["ssh"].(tftypes.Object)
	bastionT := sshT.AttributeTypes["bastion"].(tftypes.Object)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	blk, _ := ssh.MarshalPrivateKey(priv, "")
	key := string(pem.EncodeToMemory(blk))
	num := func(n int) tftypes.Value { return tftypes.NewValue(tftypes.Number, n) }

	for name, c := range map[string]struct {
		port, bastionPort *int
		want              path.Path // empty: no error
	}{
		"node port":          {port: ptr(70000), want: path.Root("ssh").AtName("port")},
		"bastion port high":  {bastionPort: ptr(70000), want: path.Root("ssh").AtName("bastion").AtName("port")},
		"bastion port zero":  {bastionPort: ptr(0), want: path.Root("ssh").AtName("bastion").AtName("port")},
		"bastion port valid": {bastionPort: ptr(2222)},
		"no bastion port":    {},
	} {
		t.Run(name, func(t *testing.T) {
			sshVals := map[string]tftypes.Value{
				"private_key":      tftypes.NewValue(tftypes.String, key),
				"known_hosts_file": tftypes.NewValue(tftypes.String, t.TempDir()+"/known_hosts"),
			}
			if c.port != nil {
				sshVals["port"] = num(*c.port)
			}
			b := map[string]tftypes.Value{"host": tftypes.NewValue(tftypes.String, "10.0.0.2")}
			if c.bastionPort != nil {
				b["port"] = num(*c.bastionPort)
			}
			sshVals["bastion"] = objectWith(bastionT, b)
			raw := objectWith(root, map[string]tftypes.Value{"ssh": objectWith(sshT, sshVals)})
			var resp provider.ConfigureResponse
			p.Configure(ctx, provider.ConfigureRequest{Config: tfsdk.Config{Schema: sr.Schema, Raw: raw}}, &resp)
			if len(c.want.Steps()) == 0 {
				if resp.Diagnostics.HasError() {
					t.Fatalf("unexpected errors: %v", resp.Diagnostics)
				}
				cl := resp.ResourceData.(*clients)
				if got := cl.runner.SSH.Bastion; got == nil || got.Host != "10.0.0.2" || got.Port == 0 || got.User != "root" {
					t.Fatalf("runner bastion: %+v", got)
				}
				if got := cl.pool.Config().Bastion; *got != *cl.runner.SSH.Bastion {
					t.Fatalf("pool and runner differ: %+v %+v", got, cl.runner.SSH.Bastion)
				}
				return
			}
			if resp.Diagnostics.ErrorsCount() != 1 {
				t.Fatalf("want one error, got %v", resp.Diagnostics)
			}
			d, ok := resp.Diagnostics.Errors()[0].(interface{ Path() path.Path })
			if !ok || !d.Path().Equal(c.want) {
				t.Fatalf("error %v not at %s", resp.Diagnostics.Errors()[0], c.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// The HAProxy resource and the data source reject provider data of the
// wrong type, as the cluster resources do, and accept none (validation runs
// before the provider is configured).
func TestConfigureProviderDataValidation(t *testing.T) {
	ctx := context.Background()
	var rr resource.ConfigureResponse
	(&haproxyTenantResource{}).Configure(ctx, resource.ConfigureRequest{ProviderData: "wrong"}, &rr)
	var dr datasource.ConfigureResponse
	(&patroniClusterDataSource{}).Configure(ctx, datasource.ConfigureRequest{ProviderData: 42}, &dr)
	for name, d := range map[string]diag.Diagnostics{"haproxy tenant": rr.Diagnostics, "data source": dr.Diagnostics} {
		if d.ErrorsCount() != 1 || d.Errors()[0].Summary() != "Unexpected provider data" {
			t.Errorf("%s: %v", name, d)
		}
	}
	var rn resource.ConfigureResponse
	(&haproxyTenantResource{}).Configure(ctx, resource.ConfigureRequest{}, &rn)
	var dn datasource.ConfigureResponse
	(&patroniClusterDataSource{}).Configure(ctx, datasource.ConfigureRequest{}, &dn)
	if rn.Diagnostics.HasError() || dn.Diagnostics.HasError() {
		t.Errorf("nil provider data must be accepted: %v %v", rn.Diagnostics, dn.Diagnostics)
	}
}
