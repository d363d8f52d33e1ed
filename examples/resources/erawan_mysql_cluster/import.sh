# <name>@<address>,<address>,... : the cluster is rebuilt from the members'
# 0600 marker files (/etc/erawan/mysql-<name>/erawan.json), passwords included.
terraform import erawan_mysql_cluster.main 'prodCluster@10.0.0.21,10.0.0.22,10.0.0.23'
