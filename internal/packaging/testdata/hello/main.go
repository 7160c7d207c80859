// Command hello stands for the arm64 opshub binary in the image tests.
package main

import "fmt"

func main() { fmt.Println("opshub test binary") }
