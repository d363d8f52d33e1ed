resource "erawan_patroni_cluster" "orders" {
  name             = "orders" # Patroni scope
  postgres_version = 17
  nodes = [ # the first is the bootstrap leader; names are stable member names
    { name = "pg1", address = "10.0.0.11" },
    { name = "pg2", address = "10.0.0.12" },
    { name = "pg3", address = "10.0.0.13" },
  ]

  allowed_cidrs    = ["10.0.0.0/24"]
  parameters       = { max_connections = "200", shared_buffers = "512MB" }
  synchronous_mode = false
  database         = { name = "orders", owner = "orders" }

  # Optional: bring your own superuser password (Terraform 1.11+, never stored
  # in the plan); bump the version to rotate it in place.
  # superuser_password_wo         = var.superuser_password
  # superuser_password_wo_version = 1

  deletion_protection = true
  timeouts = {
    create = "30m"
    update = "30m"
    delete = "15m"
  }
}

output "orders_leader" {
  value = erawan_patroni_cluster.orders.leader
}
