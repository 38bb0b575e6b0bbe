//! Shrinking a failing net: stages, branches, terms and copies are removed one at a
//! time while the failure persists, so a report shows the smallest net found.

use super::model::*;

/// Every net one step smaller than `net`.
pub fn smaller(net: &Net) -> Vec<Net> {
    let mut out = Vec::new();
    for i in 0..net.body.len() {
        if net.body.len() > 1 {
            let mut n = net.clone();
            n.body.remove(i);
            out.push(n);
        }
        for c in chains(&net.body[i]) {
            let mut n = net.clone();
            n.body[i] = c;
            out.push(n);
        }
    }
    for (b, block) in net.blocks.iter().enumerate() {
        for (s, st) in block.body.iter().enumerate() {
            let (Stmt::Bind(_, c) | Stmt::Flow(c)) = st;
            for c in chains(c) {
                let mut n = net.clone();
                match &mut n.blocks[b].body[s] {
                    Stmt::Bind(_, x) | Stmt::Flow(x) => *x = c,
                }
                out.push(n);
            }
        }
    }
    out
}

/// Every chain one step smaller than `c`.
fn chains(c: &Chain) -> Vec<Chain> {
    let mut out = Vec::new();
    let with = |k: usize, st: Stage| {
        let mut c2 = c.clone();
        c2.0[k].1 = st;
        c2
    };
    for (k, (_, st)) in c.0.iter().enumerate() {
        if c.0.len() > 1 {
            let mut c2 = c.clone();
            c2.0.remove(k);
            out.push(c2);
        }
        if c.0[k].0.is_some() {
            let mut c2 = c.clone();
            c2.0[k].0 = None;
            out.push(c2);
        }
        match st {
            Stage::Cat(bs) => {
                for j in 0..bs.len() {
                    if bs.len() > 1 {
                        let mut b2 = bs.clone();
                        b2.remove(j);
                        out.push(with(k, Stage::Cat(b2)));
                    }
                    for b in chains(&bs[j]) {
                        let mut b2 = bs.clone();
                        b2[j] = b;
                        out.push(with(k, Stage::Cat(b2)));
                    }
                }
            }
            Stage::Sum(ts) => {
                for j in 0..ts.len() {
                    if ts.len() > 1 {
                        let mut t2 = ts.clone();
                        t2.remove(j);
                        out.push(with(k, Stage::Sum(t2)));
                    }
                    if ts[j].factor.is_some() {
                        let mut t2 = ts.clone();
                        t2[j].factor = None;
                        out.push(with(k, Stage::Sum(t2)));
                    }
                    for b in chains(&ts[j].chain) {
                        let mut t2 = ts.clone();
                        t2[j].chain = b;
                        out.push(with(k, Stage::Sum(t2)));
                    }
                }
            }
            Stage::Repeat { n, index, body } => {
                if *n > 1 {
                    out.push(with(k, Stage::Repeat { n: n - 1, index: index.clone(), body: body.clone() }));
                }
                for b in chains(body) {
                    out.push(with(k, Stage::Repeat { n: *n, index: index.clone(), body: b }));
                }
            }
            Stage::If(cond, then, other) => {
                for b in chains(then) {
                    out.push(with(k, Stage::If(cond.clone(), b, other.clone())));
                }
                if other.is_some() {
                    out.push(with(k, Stage::If(cond.clone(), then.clone(), None)));
                }
            }
            _ => {}
        }
    }
    out
}

/// Shrinks `net` while `fails` holds, trying at most `budget` candidates.
pub fn shrink(mut net: Net, fails: impl Fn(&Net) -> bool, mut budget: usize) -> Net {
    'outer: loop {
        for candidate in smaller(&net) {
            if budget == 0 {
                break 'outer;
            }
            budget -= 1;
            if fails(&candidate) {
                net = candidate;
                continue 'outer;
            }
        }
        break;
    }
    let used: Vec<bool> = net.blocks.iter().map(|b| uses(&net, &b.name)).collect();
    let mut keep = used.into_iter();
    net.blocks.retain(|_| keep.next().unwrap_or(true));
    net
}

fn uses(net: &Net, block: &str) -> bool {
    let mut found = false;
    let mut visit = |c: &Chain| found |= calls(c, block);
    net.body.iter().for_each(&mut visit);
    for b in net.blocks.iter().filter(|b| b.name != block) {
        for st in &b.body {
            let (Stmt::Bind(_, c) | Stmt::Flow(c)) = st;
            visit(c);
        }
    }
    found
}

fn calls(c: &Chain, block: &str) -> bool {
    c.0.iter().any(|(_, st)| match st {
        Stage::Call { block: b, .. } => b == block,
        Stage::Cat(bs) => bs.iter().any(|b| calls(b, block)),
        Stage::Sum(ts) => ts.iter().any(|t| calls(&t.chain, block)),
        Stage::Repeat { body, .. } => calls(body, block),
        Stage::If(_, then, other) => calls(then, block) || other.as_ref().is_some_and(|o| calls(o, block)),
        _ => false,
    })
}
