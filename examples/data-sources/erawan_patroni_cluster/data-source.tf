data "erawan_patroni_cluster" "orders" {
  addresses     = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
  patroni_port  = 8008    # default
  max_lag_bytes = 1048576 # threshold for `healthy`
  # The REST API of a cluster with TLS (the default) is read over HTTPS,
  # verified against the cluster CA.
  ca_certificate_pem = erawan_patroni_cluster.orders.ca_certificate
}

# Warn on every plan and apply while the cluster is unhealthy.
check "orders_healthy" {
  assert {
    condition     = data.erawan_patroni_cluster.orders.healthy
    error_message = "Cluster orders is unhealthy: ${join("; ", data.erawan_patroni_cluster.orders.problems)}"
  }
}

# Or fail the plan outright when the cluster is unhealthy.
data "erawan_patroni_cluster" "orders_strict" {
  addresses          = ["10.0.0.11", "10.0.0.12", "10.0.0.13"]
  ca_certificate_pem = erawan_patroni_cluster.orders.ca_certificate
  lifecycle {
    postcondition {
      condition     = self.healthy && self.streaming_replicas >= 2
      error_message = "Cluster orders must have one leader and two streaming replicas: ${join("; ", self.problems)}"
    }
  }
}
