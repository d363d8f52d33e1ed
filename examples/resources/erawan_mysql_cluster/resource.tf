# A three-member MySQL InnoDB Cluster (single-primary Group Replication) on
# servers that already run MySQL 8.0.27 or later, with an application
# database, and a HAProxy tenant that routes writes to the primary and reads
# to the secondaries through the members' primary-check service.
resource "erawan_mysql_cluster" "main" {
  name = "prodCluster"
  nodes = [
    { name = "db1", address = "10.0.0.21" },
    { name = "db2", address = "10.0.0.22" },
    { name = "db3", address = "10.0.0.23" },
  ]
  management = "auto" # adminapi when mysqlsh is on every node, else group_replication
  database   = { name = "appdb", user = "appuser", ssl_required = true }

  deletion_protection = true
  timeouts            = { create = "45m", update = "45m", delete = "15m" }
}

resource "erawan_haproxy_tenant" "app" {
  name            = "app"
  host            = "10.0.0.5"
  engine          = "mysql"
  read_write_port = 3307
  read_only_port  = 3308
  backends        = [for n in erawan_mysql_cluster.main.nodes : n.address]
}

output "primary" {
  value = erawan_mysql_cluster.main.primary
}

output "app_password" {
  value     = erawan_mysql_cluster.main.database_password
  sensitive = true
}
