# make bench: a 3-node cluster on node1..3, the health data source, and
# var.tenants HAProxy tenants on node4, so one plan reads them all.
terraform {
  required_providers {
    erawan = { source = "erawan-cluster/erawan" }
  }
}

variable "lab_file" { type = string }
variable "tenants" {
  type    = number
  default = 20
}

locals { lab = jsondecode(file(var.lab_file)) }

provider "erawan" {
  ssh = {
    user             = local.lab.ssh_user
    private_key_file = local.lab.ssh_private_key_file
    known_hosts_file = local.lab.known_hosts_file
  }
}

resource "erawan_patroni_cluster" "bench" {
  name                = "bench"
  postgres_version    = 17
  nodes               = [for i, h in slice(local.lab.hosts, 0, 3) : { name = "pg${i + 1}", address = h.address }]
  deletion_protection = false
}

data "erawan_patroni_cluster" "bench" {
  addresses          = [for n in erawan_patroni_cluster.bench.nodes : n.address]
  ca_certificate_pem = erawan_patroni_cluster.bench.ca_certificate
  depends_on         = [erawan_patroni_cluster.bench]
}

resource "erawan_haproxy_tenant" "t" {
  count           = var.tenants
  name            = "bench${count.index}"
  host            = local.lab.hosts[3].address
  engine          = "postgresql"
  read_write_port = 6000 + 2 * count.index
  read_only_port  = 6001 + 2 * count.index
  backends        = [for n in erawan_patroni_cluster.bench.nodes : n.address]
  # Checks verify the REST API's certificate against the cluster CA.
  health_check_ca_pem = erawan_patroni_cluster.bench.ca_certificate
}

# The MySQL hosts (image "mysql", `LAB_MYSQL_NODES=3`): a 3-member cluster.
locals { mysql_hosts = [for h in local.lab.hosts : h if h.image == "mysql"] }

resource "erawan_mysql_cluster" "bench" {
  count               = length(local.mysql_hosts) >= 3 ? 1 : 0
  name                = "benchCluster"
  nodes               = [for i, h in slice(local.mysql_hosts, 0, 3) : { name = "db${i + 1}", address = h.address }]
  deletion_protection = false
}
