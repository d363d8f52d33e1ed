// Command terraform-provider-erawan is the Terraform provider that builds
// and runs highly available database clusters over SSH and Ansible.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/provider"
)

var version = "dev"

// exitWithParent ends the provider when Terraform, which started it, is
// gone (killed with SIGKILL, say): the provider would otherwise live on as
// an orphan, holding its node locks and running playbooks nobody waits for.
// Its ansible-playbook children die with it (Pdeathsig), its SSH sessions
// end and so free its locks, and its run directory is removed by the next
// provider to start.
func exitWithParent() {
	parent := os.Getppid()
	for range time.Tick(time.Second) {
		if os.Getppid() != parent {
			log.Printf("[ERROR] terraform-provider-erawan: parent process %d is gone; exiting", parent)
			os.Exit(1)
		}
	}
}

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	if !debug {
		go exitWithParent()
	}
	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/erawan-cluster/erawan",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}
