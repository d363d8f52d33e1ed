# <name>@<proxy host>: the tenant is rebuilt from its file on the proxy host.
terraform import erawan_haproxy_tenant.orders 'orders@10.0.0.5'
