// Command shoal is both the Shoal agent (`shoal agent`) that every host runs
// and the CLI that operators drive the cluster with.
package main

import "os"

func main() { os.Exit(run(os.Args[1:])) }
