//! `{{pg1}}`, `{{write}}`, `{{user}}` … in a lesson's text and SQL: filled in with the
//! learner's own cluster, whose addresses and login differ from machine to machine.

use std::collections::BTreeMap;

use super::validate::node_number;
use crate::cluster::topology::Topology;
use crate::runtime::ClusterRuntime;
use crate::settings::Credentials;

/// A placeholder's name → its value.
pub type Vars = BTreeMap<String, String>;

/// Names a lesson may use: `write`, `read` (endpoints as host:port), `pg1`…`pg10` (a node as
/// a client reaches it, host:port), `user`, `password`, `database`.
pub fn known(name: &str) -> bool {
    matches!(name, "write" | "read" | "user" | "password" | "database")
        || node_number(name).is_some()
}

/// The placeholders in `text`, in order.
pub fn names(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        out.push(after[..end].trim());
        rest = &after[end + 2..];
    }
    out
}

/// `text` with every known placeholder replaced; one without a value stays as written.
pub fn fill(text: &str, vars: &Vars) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                match vars.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The values for a cluster: its endpoints, each node as a client reaches it, the login.
pub fn vars(topo: &Topology, rt: &dyn ClusterRuntime) -> Vars {
    let mut v = credentials(&topo.credentials);
    v.insert("write".into(), topo.endpoints.write.to_string());
    v.insert("read".into(), topo.endpoints.read.to_string());
    for n in &topo.nodes {
        v.insert(n.name.clone(), rt.client_addr(n).to_string());
    }
    v
}

pub fn credentials(c: &Credentials) -> Vars {
    let mut v = Vars::new();
    v.insert("user".into(), c.user.clone());
    v.insert("password".into(), c.password.clone());
    v.insert("database".into(), c.database.clone());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_what_it_knows_and_leaves_the_rest() {
        let mut v = Vars::new();
        v.insert("pg1".into(), "127.0.0.11:5432".into());
        v.insert("user".into(), "me".into());
        assert_eq!(
            fill("\\c postgresql://{{user}}@{{pg1}},{{ pg2 }}/db", &v),
            "\\c postgresql://me@127.0.0.11:5432,{{ pg2 }}/db"
        );
        assert_eq!(fill("no braces", &v), "no braces");
        assert_eq!(fill("open {{pg1", &v), "open {{pg1");
        assert_eq!(names("{{pg1}} and {{ write }} {{x"), ["pg1", "write"]);
        assert!(known("pg10") && known("write") && !known("pg11") && !known("host"));
    }
}
