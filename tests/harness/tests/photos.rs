//! Photos go one way, Rock to PCO (SPEC R11), through the compiled guest: copied once, copied
//! again only when Rock's photo changes.

use pcosync::bindings::engine::Action;
use pcosync::bindings::rock::Photo;
use pcosync_harness::Harness;

const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 1, 0xFF, 0xD9,
];

fn give_photo(harness: &Harness, rock_id: i64, photo_id: i64) {
    let mut data = harness.world.rock.data.lock().unwrap();
    data.people
        .get_mut(&rock_id)
        .expect("a Rock person")
        .photo_id = Some(photo_id);
    data.photos.insert(
        rock_id,
        Photo {
            content_type: "image/jpeg".into(),
            bytes: JPEG.to_vec(),
        },
    );
}

fn uploads(harness: &Harness) -> usize {
    harness
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.contains("/v2/files"))
        .count()
}

fn avatar_file(harness: &Harness, pco_id: &str) -> Option<String> {
    harness.pco_state(pco_id)["avatar_file"]["name"]
        .as_str()
        .map(str::to_string)
}

// R11: a Rock photo reaches PCO as the person's avatar, once; a new Rock photo is copied
// again; PCO's photo never comes back to Rock.
#[tokio::test]
async fn rock_photos_reach_pco_once_and_again_when_changed() {
    let harness = Harness::new(30, 4).await;
    harness.sync(false).await.expect("the first sync");
    let (rock_id, pco_id) = harness.links().into_iter().next().expect("a link");
    give_photo(&harness, rock_id, 501);

    harness.sandbox.clear_requests();
    let second = harness.sync(false).await.expect("the second sync");
    assert_eq!(uploads(&harness), 1, "one upload for one new photo");
    assert_eq!(
        avatar_file(&harness, &pco_id).as_deref(),
        Some(format!("rock-{rock_id}-501.jpg").as_str())
    );
    assert!(
        second
            .people
            .iter()
            .flat_map(|p| &p.actions)
            .any(|a| matches!(a, Action::Updated(c) if c.field == "photo")),
        "the report shows the photo"
    );

    harness.sandbox.clear_requests();
    let third = harness.sync(false).await.expect("the third sync");
    assert_eq!(uploads(&harness), 0, "an unchanged photo is not sent again");
    assert_eq!(harness.pco_writes(), 0, "{:?}", third.people);

    give_photo(&harness, rock_id, 502);
    harness.sync(false).await.expect("the fourth sync");
    assert_eq!(uploads(&harness), 1);
    assert_eq!(
        avatar_file(&harness, &pco_id).as_deref(),
        Some(format!("rock-{rock_id}-502.jpg").as_str())
    );
    assert_eq!(
        harness.world.rock.data.lock().unwrap().people[&rock_id].photo_id,
        Some(502),
        "Rock's photo is never replaced from PCO"
    );
}

// R11, R30: a dry run lists the photo and uploads nothing.
#[tokio::test]
async fn a_dry_run_uploads_no_photo() {
    let harness = Harness::new(20, 6).await;
    harness.sync(false).await.expect("the first sync");
    let (rock_id, _) = harness.links().into_iter().next().expect("a link");
    give_photo(&harness, rock_id, 77);
    harness.sandbox.clear_requests();
    let report = harness.sync(true).await.expect("a dry run");
    assert_eq!(uploads(&harness), 0);
    assert_eq!(report.counts.updated_to_pco, 1, "{:?}", report.people);
}
