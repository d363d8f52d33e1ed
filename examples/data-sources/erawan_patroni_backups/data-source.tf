# What the repository holds for cluster "orders", and how far back a restore
# can go.
data "erawan_patroni_backups" "orders" {
  repository_host = "10.0.0.5" # the cluster's backup.repository_host
  stanza          = "orders"   # the cluster's name
}

output "orders_restore_window" {
  value = "${data.erawan_patroni_backups.orders.earliest_restore_time} .. ${data.erawan_patroni_backups.orders.latest_restore_time}"
}

output "orders_newest_backup" {
  value = element(data.erawan_patroni_backups.orders.backups, length(data.erawan_patroni_backups.orders.backups) - 1).label
}
