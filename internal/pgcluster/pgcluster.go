// Package pgcluster turns the desired shape of a Patroni cluster into the
// inputs of the embedded playbooks (inventory hosts and typed variables),
// and reads a running cluster back (see Observe and Drift).
package pgcluster

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/erawan-cluster/terraform-provider-erawan/internal/pgbackrest"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/pki"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/secrets"
	"github.com/erawan-cluster/terraform-provider-erawan/internal/topology"
)

// Steps of the Patroni playbooks. A step is a play tagged with its name that
// runs the role patroni_<step>.
const (
	StepPreflight     = "preflight"
	StepTLS           = "tls"
	StepEtcd          = "etcd"
	StepConfigure     = "configure"
	StepBootstrap     = "bootstrap"
	StepJoin          = "join"
	StepVerify        = "verify"
	StepDatabase      = "database"
	StepRemoveMembers = "remove_members"
	StepRemoveGone    = "remove_gone"
	StepMembership    = "membership"
	StepAddMembers    = "add_members"
	StepPasswords     = "passwords"
	StepConverge      = "converge"
	StepDynamicConfig = "dynamic_config"
	StepTeardown      = "teardown"
	// StepPgBackRest configures pgBackRest on every member and on the
	// repository host and starts their TLS servers; StepStanza creates the
	// stanza, checks archiving, takes the first full backup and installs
	// the schedule. Both do nothing without backups.
	StepPgBackRest = "pgbackrest"
	StepStanza     = "stanza"
	// StepBackupOff, after the dynamic configuration has turned archiving
	// off, stops and removes the pgBackRest servers, timers and
	// configuration of a cluster whose backups were removed, and keeps the
	// repository. It does nothing otherwise.
	StepBackupOff = "backup_off"
	// StepRestore, in a create with restore, opens the source stanza to the
	// new members: a pgBackRest TLS server on the source repository host
	// that admits only their certificates, for that stanza, and the
	// members' configuration of it; the bootstrap step then restores the
	// first member from it. StepRestoreEnd stops and removes both once the
	// first member has recovered and promoted. Both do nothing otherwise.
	StepRestore    = "restore"
	StepRestoreEnd = "restore_end"
	PlaybookCreate = "patroni_create.yml"
	PlaybookUpdate = "patroni_update.yml"
	PlaybookDelete = "patroni_delete.yml"
)

// Steps of each playbook, in order.
var (
	CreateSteps = []string{StepPreflight, StepTLS, StepPgBackRest, StepRestore, StepEtcd, StepConfigure, StepBootstrap, StepRestoreEnd, StepJoin, StepVerify, StepDatabase, StepStanza}
	UpdateSteps = []string{StepPreflight, StepTLS, StepRemoveGone, StepRemoveMembers, StepMembership, StepAddMembers, StepPasswords, StepConverge, StepPgBackRest, StepDynamicConfig, StepBackupOff, StepDatabase, StepStanza, StepVerify}
	DeleteSteps = []string{StepTeardown}
)

// LegacySteps maps step names of earlier releases to today's, so a create
// that failed before an upgrade resumes where it stopped.
var LegacySteps = map[string]string{"patroni_config": StepConfigure, "leader": StepBootstrap, "replicas": StepJoin}

// Database is the optional application database.
type Database struct {
	Name     string `json:"name"`
	Owner    string `json:"owner"`
	Password string `json:"-"`
}

// Passwords of the cluster's roles and of the REST API.
type Passwords struct {
	Superuser   string `json:"superuser"`   // role postgres
	Replication string `json:"replication"` // role replicator
	Rewind      string `json:"rewind"`      // role rewinder
	RestAPI     string `json:"restapi"`     // user erawan on Patroni's REST API (unsafe methods)
}

// Spec is the desired cluster.
type Spec struct {
	Name            string            // Patroni scope
	ID              string            // unique id of this cluster, written to each node's marker
	PostgresVersion int               // 14..18
	Nodes           []topology.Member // first is the bootstrap member
	PostgresPort    int               // default 5432
	PatroniPort     int               // default 8008
	EtcdClientPort  int               // default 2379
	EtcdPeerPort    int               // default 2380
	AllowedCIDRs    []string          // pg_hba client networks
	Parameters      map[string]string // PostgreSQL parameters (dynamic config)
	SynchronousMode bool
	Database        *Database
	Passwords       Passwords
	// TLS is the cluster's TLS; nil runs every channel in plaintext.
	TLS *TLS
	// Backup is where and how the cluster is backed up with pgBackRest;
	// nil without backups. It needs TLS (the transport is pgBackRest's TLS
	// server with certificates of the cluster CA).
	Backup *Backup
	// Restore is the backup the cluster was made from at create; nil for
	// a cluster made empty. It needs TLS, as Backup does.
	Restore *Restore
}

// Restore is the `restore` block of a cluster: a stanza of a pgBackRest
// repository (another cluster's backups) that the first member is
// restored from at create, up to a point in time or a backup.
type Restore struct {
	RepositoryHost string // address, reached with the provider's SSH settings
	RepositoryPath string // repo1-path there, default pgbackrest.DefaultRepositoryPath
	Stanza         string // the source cluster's name
	ServerPort     int    // the restore server's port there, default pgbackrest.DefaultRestoreServerPort
	// TargetTime is the point in time to recover to, RFC 3339 as the user
	// wrote it ("": the end of the archived WAL); BackupLabel the backup
	// to restore ("": the newest before TargetTime).
	TargetTime  string
	BackupLabel string
	// Run says this run restores: a create, a resumed create or the
	// destroy of one that did not finish. Only then does the source
	// repository host join the run (and get a certificate); updates of a
	// restored cluster never reach it.
	Run bool
}

// SourceMember is the source repository host as a certificate subject and
// inventory host of a run that restores (group GroupRestoreSource).
func (r *Restore) SourceMember() topology.Member {
	return topology.Member{Name: pgbackrest.RestoreCommonName, Address: r.RepositoryHost}
}

// GroupRestoreSource is the inventory group of the source repository host
// of a restore.
const GroupRestoreSource = "erawan_restore_source"

// PgBackRestRestore is the pgBackRest side of the spec's restore (nil
// without one). Errors: a target time that is not RFC 3339.
func (s *Spec) PgBackRestRestore() (*pgbackrest.Restore, error) {
	if s.Restore == nil {
		return nil, nil
	}
	etc := "/etc/erawan/" + s.Name
	r := &pgbackrest.Restore{
		Cluster: s.Name, Stanza: s.Restore.Stanza, RepositoryHost: s.Restore.RepositoryHost, RepositoryPath: s.Restore.RepositoryPath,
		ServerPort: s.Restore.ServerPort, BackupLabel: s.Restore.BackupLabel, DataDir: dataDir(s.Name),
		TLSDir: etc + "/tls", MemberKey: memberKey, RepositoryDir: pgbackrest.RestoreDir(s.Name), RepositoryKey: repositoryKey,
		MemberConfigFile: etc + "/pgbackrest-restore.conf",
	}
	if s.Restore.TargetTime != "" {
		t, err := time.Parse(time.RFC3339, s.Restore.TargetTime)
		if err != nil {
			return nil, fmt.Errorf("restore.target_time %q: %w", s.Restore.TargetTime, err)
		}
		r.TargetTime = t
	}
	for _, n := range s.Nodes {
		r.Members = append(r.Members, pgbackrest.Member{Name: n.Name, Address: n.Address})
	}
	return r, nil
}

// RestoreVars are a restoring run's restore as the playbooks see it
// (erawan_restore).
type RestoreVars struct {
	Stanza           string            `json:"stanza"`
	RepositoryPath   string            `json:"repository_path"`
	ServerPort       int               `json:"server_port"`
	RepositoryDir    string            `json:"repository_dir"`
	RepositoryConfig string            `json:"repository_config"`
	RepositoryKey    string            `json:"repository_key"`
	MemberConfigFile string            `json:"member_config_file"`
	MemberConfig     string            `json:"member_config"`
	Command          string            `json:"command"`
	RecoveryConf     map[string]string `json:"recovery_conf"`
	// Target says in words what the restore recovers to, for messages.
	Target string `json:"target"`
}

func (s *Spec) restoreVars() (*RestoreVars, error) {
	if s.Restore == nil || !s.Restore.Run {
		return nil, nil
	}
	r, err := s.PgBackRestRestore()
	if err != nil {
		return nil, err
	}
	target := "the end of the archived WAL"
	switch {
	case s.Restore.TargetTime != "" && s.Restore.BackupLabel != "":
		target = "time " + s.Restore.TargetTime + " from backup " + s.Restore.BackupLabel
	case s.Restore.TargetTime != "":
		target = "time " + s.Restore.TargetTime
	case s.Restore.BackupLabel != "":
		target = "the end of backup " + s.Restore.BackupLabel
	}
	return &RestoreVars{Stanza: r.Stanza, RepositoryPath: r.RepositoryPath, ServerPort: r.ServerPort, RepositoryDir: r.RepositoryDir,
		RepositoryConfig: r.RepositoryConfig(), RepositoryKey: repositoryKey,
		MemberConfigFile: r.MemberConfigFile, MemberConfig: r.MemberConfig(), Command: r.Command(), RecoveryConf: r.RecoveryConf(), Target: target}, nil
}

func dataDir(cluster string) string { return "/var/lib/erawan/" + cluster + "/postgresql/data" }

// Backup is the `backup` block of a cluster: a pgBackRest repository on a
// host apart from the members, with the cluster's name as its stanza.
type Backup struct {
	RepositoryHost string // address, reached with the provider's SSH settings
	RepositoryPath string // repo1-path, default pgbackrest.DefaultRepositoryPath
	RetentionFull  int    // repo1-retention-full
	ServerPort     int    // the pgBackRest TLS servers' port, default pgbackrest.DefaultServerPort
	// Schedule maps a backup type (full, diff, incr) to the systemd
	// OnCalendar expression of its timer on the repository host.
	Schedule map[string]string
}

// RepositoryMember is the repository host as a certificate subject and
// inventory host: it gets a certificate of the cluster CA whose common
// name the members' pgBackRest servers admit.
func (b *Backup) RepositoryMember() topology.Member {
	return topology.Member{Name: pgbackrest.RepositoryCommonName, Address: b.RepositoryHost}
}

// GroupRepository is the inventory group of the repository host.
const GroupRepository = "erawan_repository"

// Key files pgBackRest reads: members run it as postgres and share
// PostgreSQL's key; the repository host runs it as pgbackrest.
const (
	memberKey     = "postgres.key"
	repositoryKey = "pgbackrest.key"
)

// PgBackRest is the pgBackRest configuration of the spec's backups (nil
// without them): member files in /etc/erawan/<name>/, the repository
// host's in pgbackrest.RepositoryDir(name).
func (s *Spec) PgBackRest() *pgbackrest.Config {
	if s.Backup == nil {
		return nil
	}
	etc := "/etc/erawan/" + s.Name
	repo := pgbackrest.RepositoryDir(s.Name)
	c := &pgbackrest.Config{
		Stanza: s.Name, DataDir: dataDir(s.Name), PGPort: s.PostgresPort, SocketDir: "/var/run/postgresql",
		RepositoryHost: s.Backup.RepositoryHost, RepositoryPath: s.Backup.RepositoryPath, RetentionFull: s.Backup.RetentionFull,
		ServerPort: s.Backup.ServerPort, TLSDir: etc + "/tls", RepositoryTLSDir: repo + "/tls", MemberKey: memberKey, RepositoryKey: repositoryKey,
		MemberConfigFile: pgbackrest.ConfigFile(etc), RepositoryConfigFile: pgbackrest.ConfigFile(repo),
	}
	for _, n := range s.Nodes {
		c.Members = append(c.Members, pgbackrest.Member{Name: n.Name, Address: n.Address})
	}
	return c
}

// EffectiveParameters are the PostgreSQL parameters the cluster runs
// with: the user's, and with backups WAL archiving to the repository
// (archive_mode, archive_command). The marker and drift keep to the
// user's own (Parameters).
func (s *Spec) EffectiveParameters() map[string]string {
	out := maps.Clone(nonNilMap(s.Parameters))
	if c := s.PgBackRest(); c != nil {
		out["archive_mode"] = "on"
		out["archive_command"] = pgbackrest.ArchiveCommand(c.MemberConfigFile, c.Stanza)
	}
	return out
}

// BackupVars are a run's backups as the playbooks see them (erawan_backup).
type BackupVars struct {
	Stanza           string            `json:"stanza"`
	ServerPort       int               `json:"server_port"`
	RepositoryPath   string            `json:"repository_path"`
	RepositoryDir    string            `json:"repository_dir"`
	MemberConfigFile string            `json:"member_config_file"`
	RepositoryConfig string            `json:"repository_config"`
	MemberConfigs    map[string]string `json:"member_configs"`
	Schedule         map[string]string `json:"schedule"`
	User             string            `json:"user"`
	RepositoryKey    string            `json:"repository_key"`
}

func (s *Spec) backupVars() *BackupVars {
	c := s.PgBackRest()
	if c == nil {
		return nil
	}
	v := &BackupVars{Stanza: c.Stanza, ServerPort: c.ServerPort, RepositoryPath: c.RepositoryPath, RepositoryDir: pgbackrest.RepositoryDir(s.Name),
		MemberConfigFile: c.MemberConfigFile, RepositoryConfig: c.RepositoryConfig(), MemberConfigs: map[string]string{},
		Schedule: nonNilMap(s.Backup.Schedule), User: pgbackrest.RepositoryUser, RepositoryKey: repositoryKey}
	for _, m := range c.Members {
		v.MemberConfigs[m.Name] = c.MemberConfig(m)
	}
	return v
}

// TLS is how a cluster's channels are secured: etcd client and peer TLS
// with client certificates, Patroni's REST API over HTTPS, and PostgreSQL
// with ssl = on, all with node certificates of the cluster CA.
type TLS struct {
	// RequireTLS leaves no plain `host` line in pg_hba: every TCP
	// connection to PostgreSQL must use TLS.
	RequireTLS bool
	// CAPEM is the cluster CA's certificate.
	CAPEM string
	// Certs are the node certificates this run installs, by member name
	// (each for the key pki.RequestScript left pending on that node);
	// members absent keep theirs.
	Certs map[string]string
}

// TLSVars is the TLS of a run as the playbooks see it: the shared
// pki.RunVars and require_tls.
type TLSVars struct {
	pki.RunVars
	RequireTLS bool `json:"require"`
}

// Equal reports whether two specs would give the nodes the same playbook
// inputs. A nil and an empty list or map are the same. Every field of Spec
// takes part (TestSpecEqualCoversEveryField fails otherwise).
func (s *Spec) Equal(o *Spec) bool {
	return s.Name == o.Name && s.ID == o.ID && s.PostgresVersion == o.PostgresVersion &&
		slices.Equal(s.Nodes, o.Nodes) &&
		s.PostgresPort == o.PostgresPort && s.PatroniPort == o.PatroniPort &&
		s.EtcdClientPort == o.EtcdClientPort && s.EtcdPeerPort == o.EtcdPeerPort &&
		slices.Equal(s.AllowedCIDRs, o.AllowedCIDRs) && mapsEqual(s.Parameters, o.Parameters) &&
		s.SynchronousMode == o.SynchronousMode &&
		reflect.DeepEqual(s.Database, o.Database) &&
		s.Passwords == o.Passwords && reflect.DeepEqual(s.TLS, o.TLS) && reflect.DeepEqual(s.Backup, o.Backup)
	// Restore is not compared: it acts only in a restoring run (Run), and
	// a change of it later gives no node anything to do.
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Secrets lists every secret of the spec, for redaction.
func (s *Spec) Secrets() []string {
	out := []string{s.Passwords.Superuser, s.Passwords.Replication, s.Passwords.Rewind, s.Passwords.RestAPI}
	if s.Database != nil {
		out = append(out, s.Database.Password)
	}
	return out
}

// Marker is written to /etc/erawan/<name>/erawan.json (0600, root) on every
// node. It identifies the cluster (so create fails closed on foreign data)
// and lets import rebuild the resource.
type Marker struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	PostgresVersion int               `json:"postgres_version"`
	PostgresPort    int               `json:"postgres_port"`
	PatroniPort     int               `json:"patroni_port"`
	EtcdClientPort  int               `json:"etcd_client_port"`
	EtcdPeerPort    int               `json:"etcd_peer_port"`
	AllowedCIDRs    []string          `json:"allowed_cidrs"`
	Parameters      map[string]string `json:"parameters"`
	SynchronousMode bool              `json:"synchronous_mode"`
	DatabaseName    string            `json:"database_name,omitempty"`
	DatabaseOwner   string            `json:"database_owner,omitempty"`
	TLS             bool              `json:"tls"`
	RequireTLS      bool              `json:"require_tls"`
	// Backup is the `backup` block, for import; absent without backups.
	Backup *MarkerBackup `json:"backup,omitempty"`
	// Restore is the `restore` block the cluster was made with, for
	// import; absent for a cluster made empty.
	Restore *MarkerRestore `json:"restore,omitempty"`
	// No password: PostgreSQL keeps the owner's only as a SCRAM verifier,
	// and the roles' are in patroni.yml (import reads them there).
}

// MarkerBackup is the `backup` block in a marker.
type MarkerBackup struct {
	RepositoryHost string            `json:"repository_host"`
	RepositoryPath string            `json:"repository_path"`
	RetentionFull  int               `json:"retention_full"`
	ServerPort     int               `json:"server_port"`
	Schedule       map[string]string `json:"schedule"`
}

// MarkerRestore is the `restore` block in a marker.
type MarkerRestore struct {
	RepositoryHost string `json:"repository_host"`
	RepositoryPath string `json:"repository_path"`
	Stanza         string `json:"stanza"`
	ServerPort     int    `json:"server_port"`
	TargetTime     string `json:"target_time,omitempty"`
	BackupLabel    string `json:"backup_label,omitempty"`
}

// Marker returns the marker content of the spec.
func (s *Spec) Marker() Marker {
	m := Marker{
		ID: s.ID, Name: s.Name, PostgresVersion: s.PostgresVersion,
		PostgresPort: s.PostgresPort, PatroniPort: s.PatroniPort, EtcdClientPort: s.EtcdClientPort, EtcdPeerPort: s.EtcdPeerPort,
		AllowedCIDRs: nonNil(s.AllowedCIDRs), Parameters: nonNilMap(s.Parameters), SynchronousMode: s.SynchronousMode,
	}
	if s.Database != nil {
		m.DatabaseName, m.DatabaseOwner = s.Database.Name, s.Database.Owner
	}
	if s.TLS != nil {
		m.TLS, m.RequireTLS = true, s.TLS.RequireTLS
	}
	if b := s.Backup; b != nil {
		m.Backup = &MarkerBackup{RepositoryHost: b.RepositoryHost, RepositoryPath: b.RepositoryPath, RetentionFull: b.RetentionFull,
			ServerPort: b.ServerPort, Schedule: nonNilMap(b.Schedule)}
	}
	if r := s.Restore; r != nil {
		m.Restore = &MarkerRestore{RepositoryHost: r.RepositoryHost, RepositoryPath: r.RepositoryPath, Stanza: r.Stanza, ServerPort: r.ServerPort,
			TargetTime: r.TargetTime, BackupLabel: r.BackupLabel}
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// DatabaseVars is the application database as the playbooks see it: the
// owner's password only as a SCRAM verifier.
type DatabaseVars struct {
	Name             string `json:"name"`
	Owner            string `json:"owner"`
	PasswordVerifier string `json:"password_verifier"` // "": leave the owner's password as it is
}

// Vars are the extra variables of every Patroni playbook run; each key is
// declared in the meta/argument_specs.yml of the roles that read it.
type Vars struct {
	Cluster           string            `json:"erawan_cluster"`
	ClusterID         string            `json:"erawan_cluster_id"`
	PostgresVersion   int               `json:"erawan_pg_version"`
	PostgresPort      int               `json:"erawan_pg_port"`
	PatroniPort       int               `json:"erawan_patroni_port"`
	EtcdClientPort    int               `json:"erawan_etcd_client_port"`
	EtcdPeerPort      int               `json:"erawan_etcd_peer_port"`
	AllowedCIDRs      []string          `json:"erawan_allowed_cidrs"`
	Parameters        map[string]string `json:"erawan_parameters"`
	SynchronousMode   bool              `json:"erawan_synchronous_mode"`
	Database          *DatabaseVars     `json:"erawan_database"` // null without a database
	Marker            Marker            `json:"erawan_marker_content"`
	ConfigPatch       map[string]any    `json:"erawan_config_patch"`
	ParametersChanged []string          `json:"erawan_parameters_changed"`
	RotateVerifiers   map[string]string `json:"erawan_rotate_verifiers"`
	Passwords         Passwords         `json:"erawan_passwords"`
	// GoneMembers names the members taken out of nodes whose hosts did not
	// answer: removed through a member that stays (see topology.Change.Gone).
	GoneMembers []string `json:"erawan_gone_members"`
	TLS         TLSVars  `json:"erawan_tls"`
	// TLSMove says this update moves a running cluster without TLS to TLS
	// in place (patroni_tls move.yml): old had no TLS, the new spec has.
	TLSMove bool `json:"erawan_pg_tls_move"`
	// Backup is the run's pgBackRest configuration; null without backups.
	Backup *BackupVars `json:"erawan_backup"`
	// BackupOff is the previous pgBackRest configuration of an update that
	// removes backups (old had them, the new spec has none); null
	// otherwise.
	BackupOff *BackupVars `json:"erawan_backup_off"`
	// Restore is the restore of a restoring run (Restore.Run); null
	// otherwise.
	Restore *RestoreVars `json:"erawan_restore"`
}

// Vars renders the playbook variables of a create or delete (old nil) or
// of an update from old: the PATCH /config body and the changed parameter
// names (see DiffConfig), and rotate, the SCRAM verifiers of the roles'
// new passwords. The database owner's password is passed only as a SCRAM
// verifier.
func (s *Spec) Vars(old *Spec, rotate map[string]string) (*Vars, error) {
	v := &Vars{
		Cluster: s.Name, ClusterID: s.ID, PostgresVersion: s.PostgresVersion,
		PostgresPort: s.PostgresPort, PatroniPort: s.PatroniPort, EtcdClientPort: s.EtcdClientPort, EtcdPeerPort: s.EtcdPeerPort,
		AllowedCIDRs: nonNil(s.AllowedCIDRs), Parameters: s.EffectiveParameters(), SynchronousMode: s.SynchronousMode,
		Marker: s.Marker(), Backup: s.backupVars(), ConfigPatch: map[string]any{}, ParametersChanged: []string{}, RotateVerifiers: map[string]string{},
		Passwords: s.Passwords, GoneMembers: []string{},
	}
	if s.Database != nil {
		v.Database = &DatabaseVars{Name: s.Database.Name, Owner: s.Database.Owner}
		if s.Database.Password != "" { // "" after an import: the owner keeps its password
			ver, err := secrets.ScramVerifier(s.Database.Password)
			if err != nil {
				return nil, err
			}
			v.Database.PasswordVerifier = ver
		}
	}
	if old != nil {
		patch, changed := DiffConfig(old, s)
		v.ConfigPatch, v.ParametersChanged = patch, nonNil(changed)
		v.TLSMove = old.TLS == nil && s.TLS != nil
		if s.Backup == nil {
			v.BackupOff = old.backupVars()
		}
	}
	v.RotateVerifiers = nonNilMap(rotate)
	v.TLS = s.tlsVars()
	r, err := s.restoreVars()
	v.Restore = r
	return v, err
}

// DiffConfig returns the PATCH /config body and the changed parameter names
// between two specs (their EffectiveParameters, so adding backups turns
// archiving on): changed or added parameters get their new value, removed
// ones null (back to Patroni's default), synchronous_mode when it changed.
func DiffConfig(old, next *Spec) (map[string]any, []string) {
	params := map[string]any{}
	var changed []string
	oldParams, nextParams := old.EffectiveParameters(), next.EffectiveParameters()
	for k, v := range nextParams {
		if ov, ok := oldParams[k]; !ok || ov != v {
			params[k] = v
			changed = append(changed, k)
		}
	}
	for k := range oldParams {
		if _, ok := nextParams[k]; !ok {
			params[k] = nil
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	patch := map[string]any{}
	if len(params) > 0 {
		patch["postgresql"] = map[string]any{"parameters": params}
	}
	if old.SynchronousMode != next.SynchronousMode {
		patch["synchronous_mode"] = next.SynchronousMode
	}
	return patch, changed
}

// tlsVars renders the TLS of a run; the pending key of every member that
// gets a certificate is at pki.PendingKey(id, member).
func (s *Spec) tlsVars() TLSVars {
	if s.TLS == nil {
		return TLSVars{RunVars: pki.NewRunVars(s.ID, "", nil)}
	}
	return TLSVars{RunVars: pki.NewRunVars(s.ID, s.TLS.CAPEM, s.TLS.Certs), RequireTLS: s.TLS.RequireTLS}
}
