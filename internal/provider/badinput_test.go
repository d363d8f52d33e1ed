package provider

// badInput is one input that must fail at plan time (#8 §5): a whole
// resource block, and a regular expression the error must match (spaces in
// it match any run of white space, as Terraform wraps lines). Node
// addresses are 10.0.0.x; the acceptance run maps them onto the lab.
type badInput struct {
	name, hcl, want string
}

// clusterInputs wraps each case's body (held in hcl) in a resource block.
func clusterInputs(block func(string) string, cases []badInput) []badInput {
	for i := range cases {
		cases[i].hcl = block(cases[i].hcl)
	}
	return cases
}
