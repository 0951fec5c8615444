package ttlcache

import (
	"testing"

	"appkernel/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
