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
// only decide between nodes that are ready at the same time. The result is
// deterministic and independent of the order in which edges were added.
//
// # Why one engine
//
// ply orders plugins twice: the middleware chain (over before/after constraints) and
// the lifecycle (over dependencies). Both use this package, with different edges, so
// both follow the same rule, both report cycles the same way and both can be
// explained the same way: [Order.Why] returns the chain of reasons ([Step]s, each an
// [Edge], a [Priority] or a [Registration]) why one node precedes another.
//
// # Names
//
// The package knows nothing about plugins or names. The caller maps its names to
// node indexes, in registration order, and renders [Step]s and [CycleError] paths
// with its own names.
package graph
