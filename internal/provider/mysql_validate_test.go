package provider

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

func mysqlHCL(body string) string {
	return `resource "erawan_mysql_cluster" "x" {` + "\n" + body + "\n}"
}

const okMySQLNodes = `nodes = [{ name = "db1", address = "10.0.0.21" }, { name = "db2", address = "10.0.0.22" }, { name = "db3", address = "10.0.0.23" }]`

// Each bad input fails at plan time with an error that names the attribute,
// before anything reaches a node (the addresses here do not exist).
func TestMySQLPlanTimeValidation(t *testing.T) {
	p := unitProvider(t)
	for _, c := range mysqlBadInputs {
		t.Run(c.name, func(t *testing.T) {
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: protoV6,
				Steps: []resource.TestStep{{
					Config:      p + c.hcl,
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`)),
				}},
			})
		})
	}
}

func TestRefuseMemberMoves(t *testing.T) {
	list := func(pairs ...string) types.List {
		var vs []attr.Value
		for i := 0; i < len(pairs); i += 2 {
			vs = append(vs, types.ObjectValueMust(nodeAttrTypes, map[string]attr.Value{"name": types.StringValue(pairs[i]), "address": types.StringValue(pairs[i+1])}))
		}
		return types.ListValueMust(types.ObjectType{AttrTypes: nodeAttrTypes}, vs)
	}
	ctx := context.Background()
	var diags diag.Diagnostics
	if refuseMemberMoves(ctx, list("db1", "10.0.0.21", "db2", "10.0.0.22"), list("db1", "10.0.0.21", "db3", "10.0.0.23"), &diags) || diags.HasError() {
		t.Errorf("replacing a member by a new name is allowed: %v", diags)
	}
	if !refuseMemberMoves(ctx, list("db1", "10.0.0.21", "db2", "10.0.0.22"), list("db2", "10.0.0.22", "db1", "10.0.0.29"), &diags) {
		t.Fatal("a member that changes address must be refused")
	}
	if got := diags.Errors()[0]; !strings.Contains(got.Detail(), `"db1" is at 10.0.0.21`) {
		t.Errorf("error: %s", got.Detail())
	}
}

var mysqlBadInputs = clusterInputs(mysqlHCL, []badInput{
	{"short name", `name = "ab"` + "\n" + okMySQLNodes, `(?s)Attribute name.*3-40 characters`},
	{"bad name", `name = "prod cluster"` + "\n" + okMySQLNodes, `(?s)Attribute name.*3-40 characters of A-Z`},
	{"long name", `name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"` + "\n" + okMySQLNodes, `(?s)Attribute name.*3-40`},
	{"empty nodes", `name = "prod"` + "\nnodes = []", `(?s)Attribute nodes.*at least 1`},
	{"ten nodes", `name = "prod"` + "\nnodes = [for i in range(10) : { name = \"db${i}\", address = \"10.0.0.${i}\" }]", `(?s)Attribute nodes.*at most 9`},
	{"duplicate names", `name = "prod"` + "\n" + `nodes = [{ name = "db1", address = "10.0.0.21" }, { name = "db1", address = "10.0.0.22" }]`, `(?s)Duplicate member name.*nodes\[0\] and nodes\[1\] are both named "db1"`},
	{"duplicate addresses", `name = "prod"` + "\n" + `nodes = [{ name = "db1", address = "10.0.0.21" }, { name = "db2", address = "10.0.0.21" }]`, `(?s)Duplicate node address.*"10.0.0.21"`},
	{"bad member name", `name = "prod"` + "\n" + `nodes = [{ name = "DB 1", address = "10.0.0.21" }]`, `(?s)Attribute nodes\[0\]\.name.*1-63 characters`},
	{"router with group_replication", `name = "prod"` + "\nmanagement = \"group_replication\"\nrouter = { enabled = true }\n" + okMySQLNodes, `(?s)MySQL Router needs the AdminAPI.*router = \{ enabled = true \}.*needs management = "adminapi"`},
	{"bad management", `name = "prod"` + "\nmanagement = \"galera\"\n" + okMySQLNodes, `(?s)Attribute management.*value must be one of`},
	{"port 0", `name = "prod"` + "\nmysql_port = 0\n" + okMySQLNodes, `(?s)Attribute mysql_port.*between 1 and 65535`},
	{"port 65536", `name = "prod"` + "\ngroup_replication_port = 65536\n" + okMySQLNodes, `(?s)Attribute group_replication_port.*between 1 and 65535`},
	{"check port 0", `name = "prod"` + "\nprimary_check_port = 0\n" + okMySQLNodes, `(?s)Attribute primary_check_port.*between 1 and 65535`},
	{"ports collide", `name = "prod"` + "\nprimary_check_port = 3306\n" + okMySQLNodes, `(?s)Ports collide.*primary_check_port = 3306.*both 3306`},
	{"admin user root", `name = "prod"` + "\ncluster_admin_user = \"root\"\n" + okMySQLNodes, `(?s)Attribute cluster_admin_user.*none of`},
	{"bad admin user", `name = "prod"` + "\ncluster_admin_user = \"admin'--\"\n" + okMySQLNodes, `(?s)Attribute cluster_admin_user.*plain MySQL user name`},
	{"bad database", `name = "prod"` + "\ndatabase = { name = \"app-db\", user = \"app\" }\n" + okMySQLNodes, `(?s)Attribute database\.name.*plain schema name`},
	{"system database", `name = "prod"` + "\ndatabase = { name = \"mysql\", user = \"app\" }\n" + okMySQLNodes, `(?s)Attribute database\.name.*none of`},
	{"database user root", `name = "prod"` + "\ndatabase = { name = \"app\", user = \"root\" }\n" + okMySQLNodes, `(?s)Attribute database\.user.*none of`},
	{"member name starts with -", `name = "prod"` + "\n" + `nodes = [{ name = "-db1", address = "10.0.0.21" }]`, `(?s)Attribute nodes\[0\]\.name.*not\s+starting\s+with\s+-`},
	{"cluster metadata schema", `name = "prod"` + "\ndatabase = { name = \"mysql_innodb_cluster_metadata\", user = \"app\" }\n" + okMySQLNodes, `(?s)Attribute database\.name.*none of`},
	{"performance_schema", `name = "prod"` + "\ndatabase = { name = \"performance_schema\", user = \"app\" }\n" + okMySQLNodes, `(?s)Attribute database\.name.*none of`},
	{"database user is the admin", `name = "prod"` + "\ndatabase = { name = \"app\", user = \"clusteradmin\" }\n" + okMySQLNodes, `(?s)database user is the cluster admin.*"clusteradmin"`},
	{"admin password over 32", `name = "prod"` + "\ncluster_admin_password_wo = \"" + strings.Repeat("a", 33) + "\"\n" + okMySQLNodes, `(?s)Attribute cluster_admin_password_wo.*between 12 and 32`},
	{"NUL in the admin password", `name = "prod"` + "\ncluster_admin_password_wo = \"abcdefghijkl\\u0000\"\n" + okMySQLNodes, `(?s)Invalid password.*NUL`},
	{"member name too long for the router account", `name = "prod"` + "\nrouter = { enabled = true }\n" + `nodes = [{ name = "db-with-a-long-name1", address = "10.0.0.21" }]`, `(?s)Attribute nodes\[0\]\.name.*erawan_router_db-with-a-long-name1.*at most 18`},
	{"address is a host name", `name = "prod"` + "\n" + `nodes = [{ name = "db1", address = "db1.example.com" }]`, `(?s)Attribute nodes\[0\]\.address.*host names are not accepted`},
	{"address with a port", `name = "prod"` + "\n" + `nodes = [{ name = "db1", address = "10.0.0.21:3306" }]`, `(?s)Attribute nodes\[0\]\.address.*holds a port.*mysql_port`},
	{"short wo password", `name = "prod"` + "\ncluster_admin_password_wo = \"short\"\n" + okMySQLNodes, `(?s)Attribute cluster_admin_password_wo.*between 12 and 32`},
})
