// Command mkimage builds a single-layer container image around one static
// binary (entrypoint: the binary) and writes it as an OCI image layout
// tarball that containerd imports, optionally pushing it to a registry:
//
//	mkimage -binary ./hello -name shoal/hello:v1 -o hello.tar \
//	    [-push 127.0.0.1:5000/shoal/hello:v1 -insecure]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shoal-project/shoal/cmd/mkimage/imagebuild"
)

type envList []string

func (e *envList) String() string     { return strings.Join(*e, ",") }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	binary := fs.String("binary", "", "static executable to put in the image (required)")
	imgPath := fs.String("path", "", "its path in the image and the entrypoint (default /<binary base name>)")
	ref := fs.String("name", "", "image name written into the archive, e.g. shoal/hello:v1")
	out := fs.String("o", "", "OCI layout tarball to write")
	push := fs.String("push", "", "registry reference to push to, e.g. 127.0.0.1:5000/shoal/hello:v1")
	insecure := fs.Bool("insecure", false, "allow plain HTTP (or an untrusted certificate) for -push")
	arch := fs.String("arch", "", "image architecture (default: this host's)")
	healthcheck := fs.String("healthcheck", "", `the image's HEALTHCHECK test as a JSON list, e.g. '["CMD","/hello","-check","http://127.0.0.1:8080/healthz"]'`)
	healthInterval := fs.Duration("healthcheck-interval", 0, "the HEALTHCHECK's interval (default: docker's)")
	var env envList
	fs.Var(&env, "env", "default KEY=VALUE environment (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *binary == "" {
		return errors.New("-binary is required")
	}
	if *out == "" && *push == "" {
		return errors.New("nothing to do: give -o and/or -push")
	}
	if *out != "" && *ref == "" {
		return errors.New("-o needs -name")
	}
	spec := imagebuild.Spec{Binary: *binary, Path: *imgPath, Env: env, Arch: *arch}
	if *healthcheck != "" {
		spec.Healthcheck = &v1.HealthConfig{Interval: *healthInterval}
		if err := json.Unmarshal([]byte(*healthcheck), &spec.Healthcheck.Test); err != nil {
			return fmt.Errorf("-healthcheck: want a JSON list of strings: %v", err)
		}
	}
	img, err := imagebuild.Build(spec)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeFile(*out, img, *ref); err != nil {
			return err
		}
	}
	if *push != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		if err := imagebuild.Push(ctx, img, *push, *insecure); err != nil {
			return err
		}
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Println(d)
	return nil
}

// writeFile writes the archive next to path and renames it into place.
func writeFile(path string, img v1.Image, ref string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mkimage-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := imagebuild.WriteOCIArchive(tmp, img, ref); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
