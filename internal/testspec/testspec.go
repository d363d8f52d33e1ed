// Package testspec checks, for tests, that a spec's Equal method compares
// every field: it changes one field at a time by reflection and expects
// Equal to notice.
package testspec

import (
	"reflect"
	"testing"
)

// EqualCoversEveryField fails t for each exported field of *base whose
// change Equal does not notice. base must be fully populated (no zero
// field), and equal(a, b) is the method under test. exempt names fields
// that Equal ignores on purpose, with the reason as value.
func EqualCoversEveryField[S any](t *testing.T, base func() *S, equal func(a, b *S) bool, exempt map[string]string) {
	t.Helper()
	if !equal(base(), base()) {
		t.Fatal("two copies of the base spec are not Equal")
	}
	typ := reflect.TypeFor[S]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if _, ok := exempt[f.Name]; ok || !f.IsExported() {
			continue
		}
		changed := base()
		v := reflect.ValueOf(changed).Elem().Field(i)
		if v.IsZero() {
			t.Errorf("base spec leaves %s zero; populate it", f.Name)
			continue
		}
		mutate(v)
		if equal(base(), changed) {
			t.Errorf("Equal ignores a change of %s: compare it in Equal (or exempt it, saying why)", f.Name)
		}
	}
}

// mutate changes v, a non-zero value, to another non-zero value where it can.
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(v.Int() + 1)
	case reflect.Uint32, reflect.Uint64, reflect.Uint:
		v.SetUint(v.Uint() + 1)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Slice: // a fresh slice: the base's backing array may be shared
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(n, v)
		n.Index(n.Len() - 1).Set(reflect.Zero(v.Type().Elem()))
		v.Set(n)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(reflect.Zero(v.Type().Key()), reflect.Zero(v.Type().Elem()))
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(v.Elem())
		mutateFirst(p.Elem())
		v.Set(p)
	case reflect.Struct:
		mutateFirst(v)
	}
}

// mutateFirst changes the first field of a struct that can be changed.
func mutateFirst(v reflect.Value) {
	for i := range v.NumField() {
		if f := v.Field(i); f.CanSet() && !f.IsZero() {
			mutate(f)
			return
		}
	}
}
