package haproxy

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestCheckHost(t *testing.T) {
	for bind, want := range map[string]string{"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "127.0.0.1", "10.0.0.5": "10.0.0.5", "::1": "::1"} {
		if got := checkHost(bind); got != want {
			t.Errorf("checkHost(%q) = %q, want %q", bind, got, want)
		}
	}
}

func TestListenPorts(t *testing.T) {
	if got := listenPorts(Tenant{ReadWritePort: 5000, ReadOnlyPort: 5001}); !reflect.DeepEqual(got, []int{5000, 5001}) {
		t.Errorf("rw+ro: %v", got)
	}
	if got := listenPorts(Tenant{ReadWritePort: 5000}); !reflect.DeepEqual(got, []int{5000}) {
		t.Errorf("rw only: %v", got)
	}
}

// The JSON keys are the playbook's variable names.
func TestPlaybookVarsJSON(t *testing.T) {
	v := PlaybookVars(Tenant{Name: "orders", BindAddress: "0.0.0.0", ReadWritePort: 5000, ReadOnlyPort: 5001}, StatePresent, "text", "5b1c-owner")
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	want := map[string]any{
		"erawan_tenant_name": "orders", "erawan_tenant_state": "present", "erawan_tenant_config": "text", "erawan_tenant_owner": "5b1c-owner",
		"erawan_tenant_file": "/etc/haproxy/conf.d/50-erawan-orders.cfg", "erawan_tenant_ports": []any{5000.0, 5001.0},
		"erawan_tenant_check_host": "127.0.0.1", "erawan_haproxy_confd": "/etc/haproxy/conf.d", "erawan_haproxy_main": "/etc/haproxy/haproxy.cfg",
		"erawan_tenant_ca": "", "erawan_tenant_ca_file": "/etc/haproxy/conf.d/.erawan/orders.ca.pem",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("vars:\n got %v\nwant %v", got, want)
	}
	absent := PlaybookVars(Tenant{Name: "orders", BindAddress: "10.0.0.5", ReadWritePort: 5000}, StateAbsent, "", "")
	if absent.TenantState != "absent" || absent.TenantConfig != "" || absent.TenantCheckHost != "10.0.0.5" || !reflect.DeepEqual(absent.TenantPorts, []int{5000}) {
		t.Fatalf("absent: %+v", absent)
	}
}
