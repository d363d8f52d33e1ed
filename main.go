// Command terraform-provider-erawan is the Terraform provider that builds
// and runs highly available database clusters over SSH and Ansible.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/provider"
)

var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/erawan-cluster/erawan",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
