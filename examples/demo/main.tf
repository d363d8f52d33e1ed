# The demo: a three-node PostgreSQL + Patroni + etcd cluster on the lab hosts,
# the health data source, and an HAProxy tenant on the fourth host. `make demo` fills the variables from .lab/lab.json.
terraform {
  required_providers {
    erawan = { source = "erawan-cluster/erawan" }
  }
}

variable "lab_file" {
  description = "Path of the lab's lab.json (written by make lab-up)."
  type        = string
  default     = "../../.lab/lab.json"
}

locals {
  lab = jsondecode(file(var.lab_file))
}

provider "erawan" {
  ssh = {
    user             = local.lab.ssh_user
    private_key_file = local.lab.ssh_private_key_file
    known_hosts_file = local.lab.known_hosts_file
  }
}

resource "erawan_patroni_cluster" "demo" {
  name             = "demo"
  postgres_version = 17
  nodes            = [for i, h in slice(local.lab.hosts, 0, 3) : { name = "pg${i + 1}", address = h.address }]

  allowed_cidrs       = ["${join(".", slice(split(".", local.lab.hosts[0].address), 0, 3))}.0/24"]
  parameters          = { max_connections = "200" }
  database            = { name = "app", owner = "app" }
  deletion_protection = false
}

# node4 is the proxy host: read-write on 5000 (the leader), read-only on 5001.
resource "erawan_haproxy_tenant" "demo" {
  name            = "demo"
  host            = local.lab.hosts[3].address
  engine          = "postgresql"
  read_write_port = 5000
  read_only_port  = 5001
  backends        = [for n in erawan_patroni_cluster.demo.nodes : n.address]
  # Health checks verify Patroni's REST API (HTTPS) against the cluster CA.
  health_check_ca_pem = erawan_patroni_cluster.demo.ca_certificate
}

data "erawan_patroni_cluster" "health" {
  addresses          = [for n in erawan_patroni_cluster.demo.nodes : n.address]
  ca_certificate_pem = erawan_patroni_cluster.demo.ca_certificate
  depends_on         = [erawan_patroni_cluster.demo]
}

output "leader" {
  value = erawan_patroni_cluster.demo.leader
}

output "members" {
  value = [for m in erawan_patroni_cluster.demo.members : "${m.name} ${m.address} ${m.role} ${m.state} lag_bytes=${m.lag_bytes == null ? "unknown" : m.lag_bytes}"]
}

output "healthy" {
  value = data.erawan_patroni_cluster.health.healthy
}

output "leader_address" {
  value = one([for m in erawan_patroni_cluster.demo.members : m.address if m.role == "leader"])
}

output "superuser_password" {
  value     = erawan_patroni_cluster.demo.superuser_password
  sensitive = true
}

output "proxy_address" {
  value = erawan_haproxy_tenant.demo.host
}
