package monitoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

const dashboardPath = "../grafana/evmgate.json"

// board is the part of the dashboard JSON the structural checks read.
type board struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int        `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	GridPos    gridPos    `json:"gridPos"`
	Datasource *dsRef     `json:"datasource"`
	Targets    []target   `json:"targets"`
	Panels     []panel    `json:"panels"` // a collapsed row's panels
	Collapsed  bool       `json:"collapsed"`
	Field      fieldConfg `json:"fieldConfig"`
}

type fieldConfg struct {
	Defaults struct {
		Unit string `json:"unit"`
	} `json:"defaults"`
}

type gridPos struct{ X, Y, W, H int }

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type target struct {
	RefID      string `json:"refId"`
	Expr       string `json:"expr"`
	Datasource *dsRef `json:"datasource"`
}

type variable struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Query      any    `json:"query"`
	Datasource *dsRef `json:"datasource"`
}

// query is a PromQL expression of the dashboard and where it is.
type query struct {
	where string
	expr  string
}

func readBoard(t *testing.T) (raw []byte, b board) {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return raw, b
}

// panelsOf flattens rows: the panels of collapsed rows follow their row.
func panelsOf(b board) []panel {
	var out []panel
	for _, p := range b.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// dashboardQueries returns every PromQL expression of the dashboard: panel
// targets and the query variables' label_values selectors.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	_, b := readBoard(t)
	var out []query
	for _, p := range panelsOf(b) {
		for _, tg := range p.Targets {
			out = append(out, query{fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr})
		}
	}
	for _, v := range b.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Fatalf("variable %s: query %q is not label_values(selector, label)", v.Name, q)
		}
		out = append(out, query{"variable " + v.Name, m[1]})
	}
	return out
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// The dashboard follows Grafana's dashboard schema exactly: no unknown
// field, no wrong type, nothing required missing, in the panel options of
// every panel type and in every Prometheus query.
func TestDashboardMatchesGrafanaSchema(t *testing.T) {
	raw, _ := readBoard(t)
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	err := d.UnmarshalJSONStrict(raw)
	// The strict decoder returns its error list even when it is empty.
	var errs cog.BuildErrors
	if errors.As(err, &errs) {
		for _, e := range errs {
			t.Errorf("%s: %v", dashboardPath, e)
		}
	} else if err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.Title == nil || d.Uid == nil || len(d.Panels) == 0 {
		t.Fatalf("%s: title, uid or panels missing", dashboardPath)
	}
}

// Every panel queries the data source chosen in the datasource variable,
// has a title, a unit where it shows numbers, unique query ids, and a place
// on the grid that no other panel takes.
func TestDashboardPanels(t *testing.T) {
	_, b := readBoard(t)
	if b.UID == "" || b.Title == "" {
		t.Fatal("dashboard uid or title missing")
	}
	ids := map[int]string{}
	var placed []panel
	for _, p := range panelsOf(b) {
		if p.Title == "" {
			t.Errorf("panel %d has no title", p.ID)
		}
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, g)
		}
		for _, o := range placed {
			if overlap(o.GridPos, g) {
				t.Errorf("panels %q and %q overlap", o.Title, p.Title)
			}
		}
		placed = append(placed, p)
		if p.Type == "row" {
			continue
		}
		checkPanelQueries(t, p)
	}
}

func checkPanelQueries(t *testing.T, p panel) {
	t.Helper()
	if !isVarDatasource(p.Datasource) {
		t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
	}
	if len(p.Targets) == 0 {
		t.Errorf("panel %q has no query", p.Title)
	}
	if slices.Contains([]string{"timeseries", "stat", "gauge", "bargauge"}, p.Type) && p.Field.Defaults.Unit == "" {
		t.Errorf("panel %q (%s) has no unit", p.Title, p.Type)
	}
	refs := map[string]bool{}
	for _, tg := range p.Targets {
		if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
			t.Errorf("panel %q: query %q has an empty expression or a missing or repeated refId", p.Title, tg.RefID)
		}
		refs[tg.RefID] = true
		if !isVarDatasource(tg.Datasource) {
			t.Errorf("panel %q query %s: datasource %+v, want the ${datasource} variable", p.Title, tg.RefID, tg.Datasource)
		}
	}
}

func isVarDatasource(d *dsRef) bool {
	return d != nil && d.Type == "prometheus" && d.UID == "${datasource}"
}

func overlap(a, b gridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// The dashboard has the datasource, network and node variables, and every
// variable a query uses is defined (or one of Grafana's own).
func TestDashboardVariables(t *testing.T) {
	_, b := readBoard(t)
	defined := map[string]variable{}
	for _, v := range b.Templating.List {
		defined[v.Name] = v
	}
	if v, ok := defined["datasource"]; !ok || v.Type != "datasource" || v.Query != "prometheus" {
		t.Errorf("variable datasource = %+v, want a Prometheus datasource variable", v)
	}
	for _, name := range []string{"network", "node"} {
		if v, ok := defined[name]; !ok || v.Type != "query" || !isVarDatasource(v.Datasource) {
			t.Errorf("variable %s = %+v, want a query variable on ${datasource}", name, v)
		}
	}
	builtin := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	for _, q := range dashboardQueries(t) {
		for _, m := range varRef.FindAllStringSubmatch(q.expr, -1) {
			name := m[1] + m[2]
			if _, ok := defined[name]; !ok && !builtin[name] {
				t.Errorf("%s uses undefined variable $%s", q.where, name)
			}
		}
	}
}

var varRef = regexp.MustCompile(`\$(?:\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|([A-Za-z0-9_]+))`)
