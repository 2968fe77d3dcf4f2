// Package critools only names what this module builds: see the tool lines in go.mod.
package critools
