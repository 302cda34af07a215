package jobqueue_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(crashWorkerEnv); url != "" {
		crashWorker(url) // never returns: the test binary is a worker process
	}
	if url := os.Getenv(interruptWorkerEnv); url != "" {
		interruptWorker(url, os.Getenv(interruptModeEnv)) // never returns
	}
	goleak.VerifyTestMain(m)
}
