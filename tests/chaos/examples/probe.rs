use pcosync_chaos::host::{Host, Op};
use pcosync_chaos::world::{World, WorldOptions};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let warm = tempfile::tempdir()?;
    let host = Host::process(std::path::Path::new("/work/main/target/release/pcosync"), warm.path())?;
    let world = World::start(WorldOptions { people: 77, seed: 1121, allow_downgrade: false, brake_percent: 100 }).await?;
    host.prepare(&world)?;
    let out = host.run(&world, &Op::sync()).await?;
    println!("first {:?}", out.code);
    let pco = world.links("Main Campus")?[&1029].clone();
    println!("before: rock {:?} pco {:?}", world.rock_person(1029).unwrap().email, world.pco_person("Main Campus", &pco).unwrap().email);
    world.edit_rock_person(1029, json!({"Email": "new.address@example.org"})).await?;
    world.pco.clear_requests();
    let out = host.run(&world, &Op::Sync { account: None, updates_only: true, confirm: None }).await?;
    println!("updates-only {:?} writes {:?}", out.code, world.pco.requests().iter().filter(|r| r.method != "GET").map(|r| format!("{} {}", r.method, r.path)).collect::<Vec<_>>());
    let state = world.pco.person_state("Main Campus", &pco).unwrap();
    println!("PCO emails: {:?}", state["included"].as_array().unwrap().iter().filter(|r| r["type"] == "Email").map(|r| (r["attributes"]["address"].clone(), r["attributes"]["primary"].clone())).collect::<Vec<_>>());
    let out = host.run(&world, &Op::sync()).await?;
    println!("full {:?} {:?}", out.code, out.reports.iter().map(|r| r["counts"]["updated_to_rock"].clone()).collect::<Vec<_>>());
    println!("after: rock {:?} pco {:?}", world.rock_person(1029).unwrap().email, world.pco_person("Main Campus", &pco).unwrap().email);
    Ok(())
}
