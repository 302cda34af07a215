// Package graph is the one order engine of ply: a topological sort whose ties are
// broken by priority, then by registration index.
//
// # The ordering rule
//
// A [Graph] holds nodes 0..n-1, each with an int priority, and edges "from must
// precede to". [Graph.Sort] runs Kahn's algorithm with a ready queue ordered by
// (priority, index): among the nodes whose predecessors have all been placed, the one
// with the lowest priority goes next, and among equal priorities the one with the
// lowest index, which is its registration index. Edges are hard; priority and index
// only decide between nodes that are ready at the same time. So the result is
// deterministic, independent of the order in which edges were added, and depends on
// the registration order only through ties of priority.
//
// # One engine for every order
//
// ply orders plugins twice: the middleware chain, over before/after constraints, and
// the lifecycle, over dependencies. Both use this package, with different edges, so
// both follow the same rule, report cycles the same way ([CycleError]) and can be
// explained the same way: [Order.Why] returns the chain of reasons, each a [Step]
// that is an [Edge], a [Priority] or a [Registration], why one node precedes another.
//
// # Names
//
// The package knows nothing about plugins or names. The caller maps its names to node
// indexes, in registration order, and renders steps and cycle paths with its names.
//
// # Cost
//
// Sorting is near-linear in nodes plus edges: ply's budget is that 10 times the
// nodes and edges cost at most 12 times the time (BenchmarkSort). For that, the ready
// queue is a tree of bitmaps over the nodes' places in the (priority, index) order
// rather than a binary heap, whose logarithm and mispredicted branches took a sort of
// 10,000 nodes to 18 to 20 times the time of 1,000; and the per-node state that an
// edge touches shares a cache line.
package graph
