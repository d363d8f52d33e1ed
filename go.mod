module github.com/erawan-cluster/terraform-provider-erawan

go 1.26.8

require (
	github.com/pkg/sftp v1.13.12
	golang.org/x/crypto v0.58.0
)

require (
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc // indirect
	github.com/kr/fs v0.1.0 // indirect
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
