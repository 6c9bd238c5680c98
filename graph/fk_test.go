package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/attune-io/attune/internal/dbtest"
)

// These tests walk the seed's FK table through the API: delete the parent
// with the GraphQL mutation, then read the child through GraphQL.

func TestDeleteActionKeepsHistory(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "p1")
		var del struct{ DeleteAction struct{ DeletedRef string } }
		b.c.Must(t, `mutation($r:String!){ deleteAction(ref:$r){ deletedRef } }`,
			map[string]any{"r": "p1.act"}, &del)
		require.Equal(t, "p1.act", del.DeleteAction.DeletedRef)

		var got struct {
			Execution struct {
				ActionRef string
				Action    *struct{ ID string }
			}
			Rule struct {
				ActionRef, TriggerRef string
				Action                *struct{ ID string }
				Trigger               *struct{ Ref string }
			}
		}
		b.c.Must(t, `query($id:ID!){
			execution(id:$id){ actionRef action{ id } }
			rule(ref:"p1.rule"){ actionRef triggerRef action{ id } trigger{ ref } } }`,
			map[string]any{"id": id(f.execution.ID)}, &got)
		require.Nil(t, got.Execution.Action, "execution.action is SET NULL")
		require.Equal(t, "p1.act", got.Execution.ActionRef)
		require.Nil(t, got.Rule.Action, "rule.action is SET NULL")
		require.Equal(t, "p1.act", got.Rule.ActionRef)
		require.NotNil(t, got.Rule.Trigger, "the rule's trigger is untouched")
		require.Equal(t, "p1.trig", got.Rule.TriggerRef)

		e := b.c.Fail(t, `query{ action(ref:"p1.act"){ id } }`, nil)
		requireCode(t, e, "NOT_FOUND")
	})
}

func TestDeleteTriggerKeepsHistory(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "p2")
		b.c.Must(t, `mutation{ deleteTrigger(ref:"p2.trig"){ deletedRef } }`, nil, nil)
		var got struct {
			Rule struct {
				TriggerRef string
				Trigger    *struct{ ID string }
				Action     *struct{ Ref string }
			}
			Node struct {
				TriggerRef string
				Trigger    *struct{ ID string }
			}
		}
		b.c.Must(t, `query($id:ID!){
			rule(ref:"p2.rule"){ triggerRef trigger{ id } action{ ref } }
			node(id:$id){ ... on Event { triggerRef trigger{ id } } } }`,
			map[string]any{"id": id(f.event.ID)}, &got)
		require.Nil(t, got.Rule.Trigger, "rule.trigger is SET NULL")
		require.Equal(t, "p2.trig", got.Rule.TriggerRef)
		require.NotNil(t, got.Rule.Action)
		require.Nil(t, got.Node.Trigger, "event.trigger is SET NULL")
		require.Equal(t, "p2.trig", got.Node.TriggerRef)
	})
}

func TestDeleteSensorKeepsEvents(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "p3")
		b.c.Must(t, `mutation{ deleteSensor(ref:"p3.sens"){ deletedRef } }`, nil, nil)
		var got struct {
			Node struct {
				SourceRef string
				Source    *struct{ ID string }
				Trigger   *struct{ Ref string }
			}
		}
		b.c.Must(t, `query($id:ID!){ node(id:$id){ ... on Event { sourceRef source{ id } trigger{ ref } } } }`,
			map[string]any{"id": id(f.event.ID)}, &got)
		require.Nil(t, got.Node.Source, "event.source is SET NULL")
		require.Equal(t, "p3.sens", got.Node.SourceRef)
		require.NotNil(t, got.Node.Trigger)
	})
}

func TestDeleteRuleKeepsEnforcements(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "p4")
		b.c.Must(t, `mutation{ deleteRule(ref:"p4.rule"){ deletedRef } }`, nil, nil)
		var got struct {
			Node struct {
				RuleRef string
				Rule    *struct{ ID string }
				EventID string
			}
		}
		b.c.Must(t, `query($id:ID!){ node(id:$id){ ... on Enforcement { ruleRef rule{ id } eventId } } }`,
			map[string]any{"id": id(f.enforcement.ID)}, &got)
		require.Nil(t, got.Node.Rule, "enforcement.rule is SET NULL")
		require.Equal(t, "p4.rule", got.Node.RuleRef)
		require.Equal(t, id(f.event.ID), got.Node.EventID)
	})
}

func TestPurgeHistoryKeepsChildren(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "p5")
		b.c.Must(t, `mutation($e:ID!,$x:ID!){
			deleteEvent(id:$e){ deletedId }
			deleteEnforcement(id:$x){ deletedId } }`,
			map[string]any{"e": id(f.event.ID), "x": id(f.enforcement.ID)}, nil)
		var got struct {
			Execution struct {
				Parent      *struct{ ID string }
				Enforcement *struct{ ID string }
				ActionRef   string
			}
		}
		b.c.Must(t, `mutation($p:ID!){ deleteExecution(id:$p){ deletedId } }`,
			map[string]any{"p": id(f.parent.ID)}, nil)
		b.c.Must(t, `query($id:ID!){ execution(id:$id){ parent{ id } enforcement{ id } actionRef } }`,
			map[string]any{"id": id(f.execution.ID)}, &got)
		require.Nil(t, got.Execution.Parent, "execution.parent is SET NULL")
		require.Nil(t, got.Execution.Enforcement, "execution.enforcement is SET NULL")
		require.Equal(t, "p5.act", got.Execution.ActionRef)

		// The workflow execution hung off the purged parent execution: it is
		// meaningless alone and went with it.
		var wf struct{ WorkflowExecutions struct{ TotalCount int } }
		b.c.Must(t, `{ workflowExecutions{ totalCount } }`, nil, &wf)
		require.Zero(t, wf.WorkflowExecutions.TotalCount)
	})
}

func TestDeleteEventKeepsEnforcementEventID(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "p6")
		b.c.Must(t, `mutation($e:ID!){ deleteEvent(id:$e){ deletedId } }`,
			map[string]any{"e": id(f.event.ID)}, nil)
		var got struct {
			Node struct {
				EventID string
				Event   *struct{ ID string }
				Rule    *struct{ Ref string }
			}
		}
		b.c.Must(t, `query($id:ID!){ node(id:$id){ ... on Enforcement { eventId event{ id } rule{ ref } } } }`,
			map[string]any{"id": id(f.enforcement.ID)}, &got)
		require.Nil(t, got.Node.Event, "enforcement.event is SET NULL")
		require.Equal(t, id(f.event.ID), got.Node.EventID)
		require.NotNil(t, got.Node.Rule)
	})
}

func TestDeleteWorkflowDefinitionCascades(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "p7")
		b.c.Must(t, `mutation{ deleteWorkflowDefinition(ref:"p7.wf"){ deletedRef } }`, nil, nil)
		r := b.c.Do(t, `query($id:ID!){ node(id:$id){ id } }`, map[string]any{"id": id(f.wfExecution.ID)})
		require.NotEmpty(t, r.Errors)
		requireCode(t, r.Errors[0], "NOT_FOUND")
		var got struct {
			Execution struct{ ID string }
		}
		b.c.Must(t, `query($id:ID!){ execution(id:$id){ id } }`, map[string]any{"id": id(f.parent.ID)}, &got)
		require.Equal(t, id(f.parent.ID), got.Execution.ID, "the workflow's execution is history and stays")
	})
}

// TestDeletePackCascades deletes a used pack through deletePack: its
// components go (CASCADE), history stays with refs (SET NULL), and rules of
// other packs that pointed at its action and trigger keep their refs with
// null edges.
func TestDeletePackCascades(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		f := b.fixtures(t, "p8")
		other := b.ent.Pack.Create().SetRef("other").SaveX(t.Context())
		b.ent.Rule.Create().SetRef("other.uses_p8").SetPackRef("other").SetPack(other).
			SetAction(f.action).SetActionRef(f.action.Ref).
			SetTrigger(f.trigger).SetTriggerRef(f.trigger.Ref).SaveX(t.Context())

		// History is finished, so the pack may go without force.
		b.ent.Execution.Update().SetStatus("SUCCEEDED").ExecX(t.Context())
		var del struct{ DeletePack struct{ DeletedRef string } }
		b.c.Must(t, `mutation{ deletePack(input:{ref:"p8"}){ deletedRef } }`, nil, &del)
		require.Equal(t, "p8", del.DeletePack.DeletedRef)

		var got struct {
			Actions, Triggers, Sensors, Rules, WorkflowDefinitions struct{ TotalCount int }
			Execution                                              struct {
				ActionRef string
				Action    *struct{ ID string }
			}
			Rule struct {
				ActionRef, TriggerRef string
				Action                *struct{ ID string }
				Trigger               *struct{ ID string }
			}
		}
		b.c.Must(t, `query($id:ID!){
			actions(where:{packRef:"p8"}){ totalCount } triggers(where:{packRef:"p8"}){ totalCount }
			sensors(where:{packRef:"p8"}){ totalCount } rules(where:{packRef:"p8"}){ totalCount }
			workflowDefinitions(where:{packRef:"p8"}){ totalCount }
			execution(id:$id){ actionRef action{ id } }
			rule(ref:"other.uses_p8"){ actionRef triggerRef action{ id } trigger{ id } } }`,
			map[string]any{"id": id(f.execution.ID)}, &got)
		require.Zero(t, got.Actions.TotalCount+got.Triggers.TotalCount+got.Sensors.TotalCount+
			got.Rules.TotalCount+got.WorkflowDefinitions.TotalCount)
		require.Nil(t, got.Execution.Action)
		require.Equal(t, "p8.act", got.Execution.ActionRef)
		require.Nil(t, got.Rule.Action)
		require.Nil(t, got.Rule.Trigger)
		require.Equal(t, "p8.act", got.Rule.ActionRef)
		require.Equal(t, "p8.trig", got.Rule.TriggerRef)
	})
}

func TestDeleteUnknownRefIsNotFound(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, backend string) {
		b := setup(t, backend)
		for _, m := range []string{"deleteAction", "deleteTrigger", "deleteSensor", "deleteRule", "deleteWorkflowDefinition"} {
			e := b.c.Fail(t, `mutation{ `+m+`(ref:"nope.nope"){ deletedRef } }`, nil)
			requireCode(t, e, "NOT_FOUND")
		}
		e := b.c.Fail(t, `mutation{ deleteExecution(id:"12"){ deletedId } }`, nil)
		requireCode(t, e, "NOT_FOUND")
	})
}
