//go:build generate

// Package tools pins the build and lint tools by their versions in this
// module's go.mod and go.sum, kept apart from the provider's own module:
//   - tfplugindocs, run by `make generate`;
//   - golangci-lint, built into bin/ and run by `make lint`.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)

//go:generate go run github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs generate --provider-dir .. --provider-name erawan
