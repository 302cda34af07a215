package stock_test

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

func traceID(ctx context.Context) string { return trace.SpanContextFromContext(ctx).TraceID().String() }
