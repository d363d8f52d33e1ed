provider "erawan" {
  ssh = {
    user             = "root"               # any other user needs passwordless sudo
    private_key_file = "~/.ssh/id_ed25519"  # or private_key = file(...), or an ssh-agent
    known_hosts_file = "~/.ssh/known_hosts" # host keys are always verified
    host_key_policy  = "strict"             # or "accept-new" to record new hosts

    # Optional jump host:
    # bastion = { host = "bastion.example.com", user = "jump" }
  }
  ansible_playbook = "ansible-playbook" # ansible-core 2.14 or newer
}
