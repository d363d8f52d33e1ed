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

  # TLS is on by default with a CA the provider makes for this cluster; this
  # block only shows the defaults. To sign with your own CA, set
  # ca_certificate_pem and ca_private_key_pem_wo.
  tls = {
    validity_days     = 365
    renew_before_days = 30
  }
  require_tls = true # pg_hba has hostssl lines only

  # Optional: WAL archiving and backups with pgBackRest into a repository on
  # another host (needs tls); a full backup on Sundays, a differential one on
  # the other days.
  backup = {
    repository_host = "10.0.0.5"
    retention_full  = 2
    schedule = {
      full         = "Sun *-*-* 01:00:00"
      differential = "Mon..Sat *-*-* 01:00:00"
    }
  }

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

# Clients verify the servers with the cluster CA, for example
# psql "host=10.0.0.11 dbname=orders sslmode=verify-full sslrootcert=ca.crt".
output "orders_ca_certificate" {
  value = erawan_patroni_cluster.orders.ca_certificate
}
