"""The Pulumi program: versioned blue/green stacks per tenant cohort, plus one shared stack."""
