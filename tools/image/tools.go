//go:build tools

// Package tools pins crane (github.com/google/go-containerregistry), which
// scripts/image.sh uses to assemble and push kerf's container image without a
// Docker engine. Built by scripts/image-tools.sh.
package tools

import _ "github.com/google/go-containerregistry/cmd/crane"
