package admin

import (
	"testing"

	"appkernel/internal/testenv"
)

// TestMain prints one line naming the variables to set when tests skipped
// for want of a service.
func TestMain(m *testing.M) { testenv.Main(m) }
