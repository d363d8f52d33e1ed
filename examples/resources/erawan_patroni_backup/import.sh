# <cluster_id>/<label>@<repository_host>: a backup the repository holds (in
# the default repository path), such as one a scheduled timer took.
terraform import erawan_patroni_backup.nightly 'orders-0f6f3b9e1c2d/20261122-010000F@10.0.0.5'
