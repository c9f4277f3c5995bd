package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

func newImageCommand(e *cliEnv) *cobra.Command {
	group := newGroup("image", "Load, list and remove images shared across the cluster")
	group.AddCommand(newImageLoadCommand(e), newImageLsCommand(e), newImageRmCommand(e))
	return group
}

// newImageLoadCommand is `shoal image load FILE.tar`: the node imports the
// image and every other node can then fetch it from it, with no registry.
func newImageLoadCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "load FILE.tar",
		Short: "Store an image (OCI or docker-archive tarball) in the cluster",
		Args:  exactArgs("FILE.tar"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("image load: %v", err)
			}
			if int64(len(data)) > api.MaxImageUpload {
				return fmt.Errorf("image load: %s is larger than %s", args[0], api.FormatBytes(api.MaxImageUpload))
			}
			refs, err := e.client().LoadImage(cmd.Context(), data)
			if err != nil {
				return err
			}
			for _, r := range refs {
				fmt.Fprintf(cmd.OutOrStdout(), "Loaded image %s (%s, %s)\n", api.FamiliarImageRef(r.Ref), shortDigest(r.Digest), api.FormatBytes(r.TotalSize))
			}
			return nil
		},
	}
}

func newImageLsCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list"}, Short: "List images and the nodes that hold them", Args: noArgs}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		imgs, err := e.client().Images(cmd.Context())
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(cmd.OutOrStdout(), imgs)
		}
		t := newTable(cmd.OutOrStdout(), "IMAGE", "DIGEST", "SIZE", "NODES")
		for _, img := range imgs {
			t.row(api.FamiliarImageRef(img.Ref), shortDigest(img.Digest), api.FormatBytes(img.TotalSize), strings.Join(img.Nodes, ","))
		}
		return t.flush()
	}
	return cmd
}

func newImageRmCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "rm IMAGE",
		Short: "Remove an image from every node that holds it",
		Args:  exactArgs("IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.client().RemoveImage(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed image %s\n", args[0])
			return nil
		},
	}
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}
