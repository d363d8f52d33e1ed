package pgbackrest

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Backup is one backup of a stanza, from pgBackRest's
// `info --output=json`.
type Backup struct {
	// Label is the backup's label, such as 20261122-100000F.
	Label string
	// Type is full, diff or incr.
	Type string
	// StartedAt and StoppedAt are when the backup started and stopped
	// (UTC, second precision, from timestamp.start/stop).
	StartedAt, StoppedAt time.Time
	// SizeBytes is the size of the database the backup holds, in bytes
	// (info.size); RepositorySizeBytes what a restore of it reads from the
	// repository, compressed, with the backups it references
	// (info.repository.size); RepositoryDeltaBytes what this backup itself
	// added to the repository (info.repository.delta: less than
	// RepositorySizeBytes for a diff or incr).
	SizeBytes, RepositorySizeBytes, RepositoryDeltaBytes int64
	// WALStart and WALStop are the first and last WAL segments the backup
	// needs (archive.start/stop).
	WALStart, WALStop string
	// Reference lists the labels of the backups a diff or incr builds on.
	Reference []string
	// Error is true when pgBackRest found a checksum error in the backup.
	Error bool
}

// Stanza is one stanza from `info --output=json`.
type Stanza struct {
	Name string
	// StatusCode and StatusMessage are pgBackRest's status of the stanza:
	// 0 "ok", 1 "missing stanza path", 2 "no valid backups", 3 "missing
	// stanza data", 99 "other".
	StatusCode    int
	StatusMessage string
	// Backups are in the order pgBackRest lists them: oldest first.
	Backups []Backup
	// WALMin and WALMax are the oldest and newest WAL segments in the
	// archive of the current database (empty when none is archived).
	WALMin, WALMax string
}

// Status codes of a stanza (pgBackRest src/command/info/info.c).
const (
	StatusOK                = 0
	StatusMissingStanzaPath = 1
	StatusNoBackup          = 2
	StatusMissingStanzaData = 3
)

type infoJSON struct {
	Name   string `json:"name"`
	Status struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"status"`
	Backup []struct {
		Label     string `json:"label"`
		Type      string `json:"type"`
		Error     bool   `json:"error"`
		Timestamp struct {
			Start int64 `json:"start"`
			Stop  int64 `json:"stop"`
		} `json:"timestamp"`
		Info struct {
			Size       int64 `json:"size"`
			Repository struct {
				Size  int64 `json:"size"`
				Delta int64 `json:"delta"`
			} `json:"repository"`
		} `json:"info"`
		Archive struct {
			Start string `json:"start"`
			Stop  string `json:"stop"`
		} `json:"archive"`
		Reference []string `json:"reference"`
	} `json:"backup"`
	Archive []struct {
		ID  string `json:"id"`
		Min string `json:"min"`
		Max string `json:"max"`
	} `json:"archive"`
	DB []struct {
		ID int `json:"id"`
	} `json:"db"`
}

// ParseInfo reads the output of `pgbackrest info --output=json`: every
// stanza it lists.
func ParseInfo(out []byte) ([]Stanza, error) {
	var raw []infoJSON
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, fmt.Errorf("pgbackrest info --output=json: %w", err)
	}
	var stanzas []Stanza
	for _, r := range raw {
		s := Stanza{Name: r.Name, StatusCode: r.Status.Code, StatusMessage: r.Status.Message}
		for _, b := range r.Backup {
			s.Backups = append(s.Backups, Backup{
				Label: b.Label, Type: b.Type, Error: b.Error,
				StartedAt: time.Unix(b.Timestamp.Start, 0).UTC(), StoppedAt: time.Unix(b.Timestamp.Stop, 0).UTC(),
				SizeBytes: b.Info.Size, RepositorySizeBytes: b.Info.Repository.Size, RepositoryDeltaBytes: b.Info.Repository.Delta,
				WALStart: b.Archive.Start, WALStop: b.Archive.Stop, Reference: slices.Clone(b.Reference),
			})
		}
		// The archive of the newest database (the last one listed) is the
		// one WAL is pushed to now.
		if n := len(r.Archive); n > 0 {
			s.WALMin, s.WALMax = r.Archive[n-1].Min, r.Archive[n-1].Max
		}
		stanzas = append(stanzas, s)
	}
	return stanzas, nil
}

// Find returns the stanza named name, or false.
func Find(stanzas []Stanza, name string) (Stanza, bool) {
	for _, s := range stanzas {
		if s.Name == name {
			return s, true
		}
	}
	return Stanza{}, false
}

// Newest returns the newest backup of the stanza without errors, or false.
func (s Stanza) Newest() (Backup, bool) {
	for i := len(s.Backups) - 1; i >= 0; i-- {
		if !s.Backups[i].Error {
			return s.Backups[i], true
		}
	}
	return Backup{}, false
}

// Earliest is when the oldest backup without errors started: the earliest
// point in time a restore can reach (with the WAL archived since), or
// false without one.
func (s Stanza) Earliest() (time.Time, bool) {
	for _, b := range s.Backups {
		if !b.Error {
			return b.StartedAt, true
		}
	}
	return time.Time{}, false
}
