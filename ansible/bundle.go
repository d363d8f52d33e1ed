// Package ansible embeds the playbooks, roles and callback plugin that the
// provider runs, so a released provider binary needs no files beside it.
package ansible

import "embed"

// Bundle holds ansible.cfg, the playbooks, group_vars, roles and callback_plugins.
//
//go:embed ansible.cfg *.yml group_vars roles callback_plugins
var Bundle embed.FS
