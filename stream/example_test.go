package stream_test

import (
	"context"
	"fmt"

	"github.com/plykit/ply/stream"
)

func ExampleNew() {
	squares := stream.New(context.Background(), 4, func(_ context.Context, emit func(int) error) error {
		for i := 1; ; i++ {
			if err := emit(i * i); err != nil {
				return err // the consumer broke out of its loop
			}
		}
	})
	for sq, err := range squares {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if sq > 20 {
			break // stops the producer
		}
		fmt.Println(sq)
	}
	// Output:
	// 1
	// 4
	// 9
	// 16
}
