# An on-demand full backup before a risky migration. The cluster must have a
# backup block; this backup goes into the same repository and stanza.
resource "erawan_patroni_backup" "before_migration" {
  cluster_id      = erawan_patroni_cluster.orders.id
  nodes           = erawan_patroni_cluster.orders.nodes
  repository_host = "10.0.0.5"
  type            = "full"
}

# What a restore can reach, including this backup.
output "before_migration" {
  value = {
    label      = erawan_patroni_backup.before_migration.label
    stopped_at = erawan_patroni_backup.before_migration.stopped_at
  }
}
