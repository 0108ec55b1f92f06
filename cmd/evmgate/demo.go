package main

import (
	"errors"
	"io"
)

func demo(args []string, stdout, stderr io.Writer) error {
	return errors.New("demo is not available")
}
