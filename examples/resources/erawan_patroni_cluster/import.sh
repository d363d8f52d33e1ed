# <name>@<address>,<address>,... : the cluster is rebuilt from the nodes,
# passwords included (from patroni.yml and the 0600 marker file).
terraform import erawan_patroni_cluster.orders 'orders@10.0.0.11,10.0.0.12,10.0.0.13'
