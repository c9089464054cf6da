//! A seeded fault sequence, made before anything runs: the same seed always gives the same
//! steps, so a sequence that breaks something can be replayed. A model of the cluster, updated
//! with each step's expected effect, keeps most steps meaningful (a failover after the primary
//! dies, a rewind of a fenced node, a heal of a cut-off one) and marks the steps the app must
//! refuse. The model is what the app should do, not what it did: a run that strays from it
//! still runs the same steps.

use std::fmt;

/// splitmix64: tiny, fast, and good enough to pick steps; no dependency to pin.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn percent(&mut self, p: u64) -> bool {
        self.next_u64() % 100 < p
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len())].clone())
    }
}

/// What kind of fault or repair a step is; every kind shows up in a long plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Kill,
    Stop,
    Start,
    StartForce,
    Pause,
    Resume,
    Partition,
    Heal,
    KillProxy,
    Promote,
    PromoteForce,
    Rewind,
    ScaleUp,
    ScaleDown,
    /// The app started again: `up` on the running cluster.
    Up,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::Kill,
        Kind::Stop,
        Kind::Start,
        Kind::StartForce,
        Kind::Pause,
        Kind::Resume,
        Kind::Partition,
        Kind::Heal,
        Kind::KillProxy,
        Kind::Promote,
        Kind::PromoteForce,
        Kind::Rewind,
        Kind::ScaleUp,
        Kind::ScaleDown,
        Kind::Up,
    ];

    /// A fault, as opposed to a repair or a no-op: counted in the summary.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            Kind::Kill | Kind::Stop | Kind::Pause | Kind::Partition | Kind::KillProxy
        )
    }
}

/// What the app's answer should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Accept,
    /// It would break an invariant (a second primary, a fenced node serving): a success is a
    /// violation.
    Refuse,
    /// Depends on what the model cannot know (WAL positions, a cut-off node's reach).
    Either,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// `replica-lab node OP NODE [--force]`.
    Node {
        op: &'static str,
        node: String,
        force: bool,
    },
    /// SIGKILL to HAProxy (local) or `docker kill` of its container.
    KillProxy,
    /// `replica-lab scale N`.
    Scale(u8),
    /// `replica-lab up`, as the app does when it starts.
    Up,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub index: usize,
    pub kind: Kind,
    pub action: Action,
    pub expect: Expect,
    /// What the model took the cluster to be before the step; a refusal is judged only when
    /// the cluster is that (a run that strayed from the model may rightly do otherwise).
    pub model: Option<Model>,
}

impl Step {
    /// The command line arguments, when the step is a `replica-lab` command.
    pub fn args(&self) -> Option<Vec<String>> {
        match &self.action {
            Action::Node { op, node, force } => {
                let mut a = vec!["node".to_string(), op.to_string(), node.clone()];
                if *force {
                    a.push("--force".into());
                }
                Some(a)
            }
            Action::Scale(n) => Some(vec!["scale".into(), n.to_string()]),
            Action::Up => Some(vec!["up".into()]),
            Action::KillProxy => None,
        }
    }

    /// The node a node operation acts on.
    pub fn node(&self) -> Option<&str> {
        match &self.action {
            Action::Node { node, .. } => Some(node),
            _ => None,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.args() {
            Some(a) => write!(f, "{}", a.join(" "))?,
            None => f.write_str("kill haproxy")?,
        }
        if self.expect == Expect::Refuse {
            f.write_str(" (must refuse)")?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proc {
    Running,
    Paused,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeModel {
    pub index: u8,
    pub proc: Proc,
    /// Its data is a primary's (the current one, or a former one on an older timeline).
    pub primary: bool,
    pub fenced: bool,
    /// Cut off the cluster network.
    pub cut: bool,
}

impl NodeModel {
    fn standby(index: u8) -> NodeModel {
        NodeModel {
            index,
            proc: Proc::Running,
            primary: false,
            fenced: false,
            cut: false,
        }
    }

    pub fn name(&self) -> String {
        format!("pg{}", self.index)
    }

    /// Answers SQL: running and reachable.
    fn serves(&self) -> bool {
        self.proc == Proc::Running && !self.cut
    }
}

pub const MIN_REPLICAS: u8 = 1;
pub const MAX_REPLICAS: u8 = 4;

/// What the cluster should look like after the steps so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Model {
    pub nodes: Vec<NodeModel>,
    /// The index of the node the app made primary last.
    pub authority: u8,
    pub proxy: bool,
    /// The runtime can cut a node off the network (Docker); elsewhere it must refuse.
    pub partitions: bool,
}

impl Model {
    pub fn new(replicas: u8, partitions: bool) -> Model {
        let mut nodes = vec![NodeModel {
            primary: true,
            ..NodeModel::standby(1)
        }];
        nodes.extend((2..=replicas + 1).map(NodeModel::standby));
        Model {
            nodes,
            authority: 1,
            proxy: true,
            partitions,
        }
    }

    pub fn replicas(&self) -> u8 {
        u8::try_from(self.nodes.len().saturating_sub(1)).unwrap_or(u8::MAX)
    }

    fn get(&self, index: u8) -> Option<&NodeModel> {
        self.nodes.iter().find(|n| n.index == index)
    }

    fn get_mut(&mut self, index: u8) -> Option<&mut NodeModel> {
        self.nodes.iter_mut().find(|n| n.index == index)
    }

    fn index_of(name: &str) -> Option<u8> {
        name.strip_prefix("pg")?.parse().ok()
    }

    fn authority_serves(&self) -> bool {
        self.get(self.authority).is_some_and(NodeModel::serves)
    }

    /// Something that would keep `up` or `scale` waiting for the cluster to be whole.
    fn something_frozen(&self) -> bool {
        self.nodes.iter().any(|n| n.proc == Proc::Paused || n.cut)
    }

    fn names(&self, keep: impl Fn(&NodeModel) -> bool) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| keep(n))
            .map(NodeModel::name)
            .collect()
    }

    /// Nodes that would be a second primary the moment another is promoted.
    fn rivals(&self, of: u8) -> Vec<u8> {
        self.nodes
            .iter()
            .filter(|n| n.index != of)
            .filter(|n| (n.primary || n.index == self.authority) && n.proc != Proc::Stopped)
            .map(|n| n.index)
            .collect()
    }

    /// What the app should answer to `action`; pure.
    pub fn expect(&self, action: &Action) -> Expect {
        match action {
            Action::KillProxy => Expect::Accept,
            Action::Up if self.something_frozen() => Expect::Either,
            Action::Up => Expect::Accept,
            Action::Scale(n) if !(MIN_REPLICAS..=MAX_REPLICAS).contains(n) => Expect::Refuse,
            Action::Scale(_) if !self.authority_serves() || self.something_frozen() => {
                Expect::Either
            }
            Action::Scale(_) => Expect::Accept,
            Action::Node { op, node, force } => {
                let Some(n) = Self::index_of(node).and_then(|i| self.get(i)) else {
                    return Expect::Refuse;
                };
                self.expect_node(op, n, *force)
            }
        }
    }

    fn expect_node(&self, op: &str, n: &NodeModel, force: bool) -> Expect {
        use Expect::*;
        match (op, n.proc) {
            // Where nothing can be cut, healing is the no-op of healing a connected node.
            ("partition", _) if !self.partitions => Refuse,
            ("partition" | "heal", _) => Accept,
            ("kill" | "stop", _) => Accept,
            ("start", Proc::Paused) => Refuse,
            ("start", Proc::Stopped) if n.fenced && !force => Refuse,
            ("start", _) => Accept,
            ("pause", Proc::Stopped) | ("resume", Proc::Stopped) => Refuse,
            ("pause" | "resume", _) => Accept,
            ("promote", _) if n.primary || !n.serves() => Refuse,
            ("promote", _) if n.fenced => Either,
            ("promote", _) if !self.rivals(n.index).is_empty() && !force => Refuse,
            ("promote", _) => Accept,
            ("rewind", Proc::Paused) => Refuse,
            ("rewind", Proc::Running) if !n.fenced => Refuse,
            ("rewind", _) if n.index == self.authority => Either,
            ("rewind", _) if !self.authority_serves() || n.cut => Either,
            ("rewind", _) => Accept,
            _ => Either,
        }
    }

    /// Moves the model on by `action`, as if the app answered as [`Model::expect`] says
    /// (a step that may go either way is taken to succeed).
    pub fn apply(&mut self, action: &Action) {
        if self.expect(action) == Expect::Refuse {
            return;
        }
        match action {
            Action::KillProxy => self.proxy = false,
            Action::Up => {
                self.proxy = true;
                for n in &mut self.nodes {
                    if n.proc == Proc::Stopped && !n.fenced {
                        n.proc = Proc::Running;
                    }
                }
            }
            Action::Scale(want) => self.scale(*want),
            Action::Node { op, node, force } => {
                if let Some(i) = Self::index_of(node) {
                    self.apply_node(op, i, *force);
                }
            }
        }
    }

    fn scale(&mut self, want: u8) {
        while self.replicas() < want {
            let free = (1..=u8::MAX)
                .find(|i| self.get(*i).is_none())
                .unwrap_or(u8::MAX);
            self.nodes.push(NodeModel::standby(free));
            self.nodes.sort_by_key(|n| n.index);
        }
        while self.replicas() > want {
            let authority = self.authority;
            let Some(last) = self.nodes.iter().rposition(|n| n.index != authority) else {
                break;
            };
            self.nodes.remove(last);
        }
    }

    fn apply_node(&mut self, op: &str, index: u8, force: bool) {
        let rivals = self.rivals(index);
        let old = self.authority;
        let partitions = self.partitions;
        let Some(n) = self.get_mut(index) else {
            return;
        };
        match op {
            "kill" | "stop" => n.proc = Proc::Stopped,
            "start" if n.proc == Proc::Stopped => n.proc = Proc::Running,
            "pause" => n.proc = Proc::Paused,
            "resume" => n.proc = Proc::Running,
            "partition" if partitions => n.cut = true,
            "heal" => n.cut = false,
            // Rewinding the primary itself finds no primary to rewind against.
            "rewind" if index == old => {}
            "rewind" => {
                n.proc = Proc::Running;
                n.primary = false;
                n.fenced = false;
            }
            "promote" => {
                n.primary = true;
                n.fenced = false;
                self.authority = index;
                if force {
                    for r in rivals {
                        if let Some(r) = self.get_mut(r) {
                            r.proc = Proc::Stopped;
                        }
                    }
                }
                if let Some(o) = self.get_mut(old).filter(|_| old != index) {
                    o.fenced = true;
                }
            }
            _ => {}
        }
    }
}

/// `count` steps from `seed`, on a cluster that starts with `replicas` replicas.
pub fn plan(seed: u64, count: usize, replicas: u8, partitions: bool) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let mut model = Model::new(replicas, partitions);
    let mut bag = Bag::default();
    let mut steps = Vec::with_capacity(count);
    for index in 0..count {
        let (kind, action) = choose(&mut rng, &mut bag, &model);
        let expect = model.expect(&action);
        let before = model.clone();
        model.apply(&action);
        steps.push(Step {
            index,
            kind,
            action,
            expect,
            model: Some(before),
        });
    }
    steps
}

fn node_op(op: &'static str, node: String, force: bool) -> Action {
    Action::Node { op, node, force }
}

/// The next step: a repair the situation calls for, most of the time, else any fault.
fn choose(rng: &mut Rng, bag: &mut Bag, m: &Model) -> (Kind, Action) {
    let live_standbys = m.names(|n| n.serves() && !n.primary && !n.fenced);
    let authority = m.get(m.authority);
    if authority.is_some_and(|a| a.proc == Proc::Stopped) && rng.percent(65) {
        if let Some(n) = rng.pick(&live_standbys) {
            return if rng.percent(25) {
                (Kind::PromoteForce, node_op("promote", n, true))
            } else {
                (Kind::Promote, node_op("promote", n, false))
            };
        }
        return (
            Kind::Start,
            node_op("start", format!("pg{}", m.authority), false),
        );
    }
    if !m.proxy && rng.percent(60) {
        return (Kind::Up, Action::Up);
    }
    let fenced = m.names(|n| n.fenced);
    if !fenced.is_empty() && rng.percent(35) {
        if let Some(n) = rng.pick(&fenced) {
            return (Kind::Rewind, node_op("rewind", n, false));
        }
    }
    let cut = m.names(|n| n.cut);
    if !cut.is_empty() && rng.percent(40) {
        if let Some(n) = rng.pick(&cut) {
            return (Kind::Heal, node_op("heal", n, false));
        }
    }
    let paused = m.names(|n| n.proc == Proc::Paused);
    if !paused.is_empty() && rng.percent(40) {
        if let Some(n) = rng.pick(&paused) {
            return (Kind::Resume, node_op("resume", n, false));
        }
    }
    if m.nodes.iter().filter(|n| n.serves()).count() < 2 && rng.percent(50) {
        return (Kind::Up, Action::Up);
    }
    any_fault(rng, bag, m)
}

/// How many of each kind a bag of faults holds: failovers and their repairs dominate, and
/// drawing from a bag (refilled when empty) puts every kind into even a short plan.
const BAG: [(Kind, usize); 15] = [
    (Kind::Kill, 3),
    (Kind::Stop, 1),
    (Kind::Start, 1),
    (Kind::StartForce, 1),
    (Kind::Pause, 1),
    (Kind::Resume, 1),
    (Kind::Partition, 1),
    (Kind::Heal, 1),
    (Kind::KillProxy, 1),
    (Kind::Promote, 1),
    (Kind::PromoteForce, 2),
    (Kind::Rewind, 1),
    (Kind::ScaleUp, 1),
    (Kind::ScaleDown, 1),
    (Kind::Up, 1),
];

/// The faults still to draw, in drawing order.
#[derive(Clone, Debug, Default)]
pub struct Bag(Vec<Kind>);

impl Bag {
    fn draw(&mut self, rng: &mut Rng) -> Kind {
        if self.0.is_empty() {
            self.0 = BAG
                .iter()
                .flat_map(|(k, n)| std::iter::repeat_n(*k, *n))
                .collect();
            // Fisher-Yates.
            for i in (1..self.0.len()).rev() {
                let j = rng.below(i + 1);
                self.0.swap(i, j);
            }
        }
        self.0.pop().unwrap_or(Kind::Kill)
    }
}

fn any_fault(rng: &mut Rng, bag: &mut Bag, m: &Model) -> (Kind, Action) {
    let kind = bag.draw(rng);
    let all = m.names(|_| true);
    let any = |rng: &mut Rng| rng.pick(&all).unwrap_or_else(|| "pg1".into());
    let primary = format!("pg{}", m.authority);
    // Half the node faults hit the primary: that is where the invariants are at stake.
    let target = |rng: &mut Rng| {
        if rng.percent(50) {
            primary.clone()
        } else {
            any(rng)
        }
    };
    let or_any = |rng: &mut Rng, names: Vec<String>| rng.pick(&names).unwrap_or_else(|| any(rng));
    let action = match kind {
        Kind::Kill => node_op("kill", target(rng), false),
        Kind::Stop => node_op("stop", target(rng), false),
        Kind::Pause => node_op("pause", target(rng), false),
        Kind::Partition => node_op("partition", target(rng), false),
        Kind::Start => {
            let stopped = m.names(|n| n.proc == Proc::Stopped);
            node_op("start", or_any(rng, stopped), false)
        }
        Kind::StartForce => {
            let fenced = m.names(|n| n.fenced && n.proc == Proc::Stopped);
            node_op("start", or_any(rng, fenced), true)
        }
        Kind::Resume => {
            let paused = m.names(|n| n.proc == Proc::Paused);
            node_op("resume", or_any(rng, paused), false)
        }
        Kind::Heal => {
            let cut = m.names(|n| n.cut);
            node_op("heal", or_any(rng, cut), false)
        }
        Kind::Promote | Kind::PromoteForce => {
            let standbys = m.names(|n| !n.primary && n.serves());
            node_op("promote", or_any(rng, standbys), kind == Kind::PromoteForce)
        }
        Kind::Rewind => {
            let fenced = m.names(|n| n.fenced);
            node_op("rewind", or_any(rng, fenced), false)
        }
        Kind::ScaleUp if m.replicas() >= MAX_REPLICAS => Action::Scale(m.replicas() - 1),
        Kind::ScaleUp => Action::Scale(m.replicas() + 1),
        // Now and then a count the app must refuse.
        Kind::ScaleDown if rng.percent(15) => Action::Scale(0),
        Kind::ScaleDown if m.replicas() <= MIN_REPLICAS => Action::Scale(m.replicas() + 1),
        Kind::ScaleDown => Action::Scale(m.replicas() - 1),
        Kind::KillProxy if !m.proxy => Action::Up,
        Kind::KillProxy => Action::KillProxy,
        Kind::Up => Action::Up,
    };
    let kind = match (&action, kind) {
        (Action::Up, _) => Kind::Up,
        (Action::Scale(n), _) if *n > m.replicas() => Kind::ScaleUp,
        (Action::Scale(_), _) => Kind::ScaleDown,
        (_, k) => k,
    };
    (kind, action)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
