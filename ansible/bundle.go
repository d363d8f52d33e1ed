// Package ansible embeds the playbooks, roles and callback plugin that the
// provider runs, so a released provider binary needs no files beside it.
package ansible

import "embed"

// Bundle holds ansible.cfg, the playbooks, group_vars, roles, callback_plugins and library (the erawan_http module).
//
//go:embed ansible.cfg *.yml group_vars roles callback_plugins library
var Bundle embed.FS
