# make bench, backups: a 3-node cluster "bk" on node1..3 (ports of its own)
# backing up into node4, an on-demand full backup of it, and a one-node
# cluster restored from its stanza, each applied on its own by bench.sh.
terraform {
  required_providers {
    erawan = { source = "erawan-cluster/erawan" }
  }
}

variable "lab_file" { type = string }
variable "restore" {
  type    = bool
  default = false
}
variable "backup" {
  type    = bool
  default = false
}

locals { lab = jsondecode(file(var.lab_file)) }

provider "erawan" {
  ssh = {
    user             = local.lab.ssh_user
    private_key_file = local.lab.ssh_private_key_file
    known_hosts_file = local.lab.known_hosts_file
  }
}

resource "erawan_patroni_cluster" "bk" {
  name                = "bk"
  postgres_version    = 17
  nodes               = [for i, h in slice(local.lab.hosts, 0, 3) : { name = "bk${i + 1}", address = h.address }]
  postgres_port       = 5460
  patroni_port        = 8060
  etcd_client_port    = 2460
  etcd_peer_port      = 2461
  deletion_protection = false
  backup = {
    repository_host = local.lab.hosts[3].address
    server_port     = 8440
  }
}

resource "erawan_patroni_backup" "full" {
  count           = var.backup ? 1 : 0
  cluster_id      = erawan_patroni_cluster.bk.id
  repository_host = local.lab.hosts[3].address
  type            = "full"
}

resource "erawan_patroni_cluster" "bk_restored" {
  count               = var.restore ? 1 : 0
  name                = "bk_restored"
  postgres_version    = 17
  nodes               = [{ name = "bkr1", address = local.lab.hosts[0].address }]
  postgres_port       = 5462
  patroni_port        = 8062
  etcd_client_port    = 2462
  etcd_peer_port      = 2463
  deletion_protection = false
  restore = {
    repository_host = local.lab.hosts[3].address
    stanza          = "bk"
    server_port     = 8441 # apart from the tests' restores (default 8431)
  }
  depends_on = [erawan_patroni_backup.full]
}

output "leader" { value = erawan_patroni_cluster.bk.leader }
output "leader_address" {
  value = one([for n in erawan_patroni_cluster.bk.nodes : n.address if n.name == erawan_patroni_cluster.bk.leader])
}
