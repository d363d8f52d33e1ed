package runner

import (
	"io/fs"
	"os"
	"path/filepath"

	bundle "github.com/erawan-cluster/terraform-provider-erawan/ansible"
)

// extract writes the embedded playbooks, roles, callback plugin and
// ansible.cfg under dst, files 0600 and directories 0700.
func extract(dst string) error {
	return fs.WalkDir(bundle.Bundle, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dst, p)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		b, err := bundle.Bundle.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600)
	})
}
