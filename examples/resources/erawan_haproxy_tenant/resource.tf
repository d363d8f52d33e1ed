resource "erawan_patroni_cluster" "orders" {
  name             = "orders"
  postgres_version = 17
  nodes = [
    { name = "pg1", address = "10.0.0.11" },
    { name = "pg2", address = "10.0.0.12" },
    { name = "pg3", address = "10.0.0.13" },
  ]
}

# Clients connect to 10.0.0.5:5000 for the leader and 10.0.0.5:5001 for
# replicas lagging at most 1 MiB.
resource "erawan_haproxy_tenant" "orders" {
  name            = "orders"
  host            = "10.0.0.5"
  engine          = "postgresql"
  read_write_port = 5000
  read_only_port  = 5001
  backends        = [for n in erawan_patroni_cluster.orders.nodes : n.address]
  # The health checks verify Patroni's REST API certificate against the cluster CA.
  health_check_ca_pem   = erawan_patroni_cluster.orders.ca_certificate
  max_replica_lag_bytes = 1048576
  allowed_cidrs         = ["10.0.0.0/8"]
  maxconn               = 1000
}
