//! The same guest component in a wasmtime engine configured here, to weigh what the host's
//! engine settings cost the guest: fuel metering (its CPU budget) and epoch interruption (its
//! wall-clock budget). The host functions delegate to the same capabilities as
//! `pcosync::runtime` does; only the engine settings differ.

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use pcosync::Capabilities;
use pcosync::bindings::engine::{Account, Report, SyncOptions};
use pcosync::bindings::types::{Error, ErrorKind};
use pcosync::bindings::{Plugin, PluginPre, log, pco, rock, state};

pub struct Engine2 {
    engine: Engine,
    pre: PluginPre<State>,
    fuel: bool,
    epoch: bool,
}

pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    capabilities: Capabilities,
    namespace: String,
}

impl Engine2 {
    /// Compiles the built-in guest with these settings (Cranelift's defaults otherwise, as
    /// the host's engine).
    pub fn new(fuel: bool, epoch: bool) -> Engine2 {
        let mut config = Config::new();
        config.consume_fuel(fuel).epoch_interruption(epoch);
        let engine = Engine::new(&config).expect("an engine");
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("WASI");
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state).expect("the contract");
        let component = Component::new(&engine, pcosync::DEFAULT_GUEST).expect("compiles");
        let pre = PluginPre::new(linker.instantiate_pre(&component).expect("links"))
            .expect("the contract");
        Engine2 {
            engine,
            pre,
            fuel,
            epoch,
        }
    }

    pub async fn sync(
        &self,
        capabilities: &Capabilities,
        account: &Account,
        options: &SyncOptions,
    ) -> Result<Report, Error> {
        let state = State {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            capabilities: capabilities.clone(),
            namespace: account.name.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        if self.fuel {
            store.set_fuel(u64::MAX / 2).expect("fuel is on");
            if !self.epoch {
                // As pcosync::runtime: yields where the wall-clock budget is checked.
                store
                    .fuel_async_yield_interval(Some(10_000_000))
                    .expect("fuel is on");
            }
        }
        if self.epoch {
            store.set_epoch_deadline(u64::MAX / 2);
        }
        let plugin = self
            .pre
            .instantiate_async(&mut store)
            .await
            .expect("instantiates");
        plugin
            .rockpco_sync_engine()
            .call_sync(&mut store, account, options)
            .await
            .map_err(|e| Error::new(ErrorKind::Internal, format!("{e:#}")))?
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

type Answer<T> = wasmtime::Result<T>;

impl pcosync::bindings::types::Host for State {}

impl rock::Host for State {
    async fn account_groups(&mut self, account: String) -> Answer<Result<Vec<rock::Group>, Error>> {
        Ok(self.capabilities.rock.account_groups(&account).await)
    }
    async fn groups(&mut self, ids: Vec<i64>) -> Answer<Result<Vec<rock::Group>, Error>> {
        Ok(self.capabilities.rock.groups(&ids).await)
    }
    async fn active_members(
        &mut self,
        groups: Vec<i64>,
    ) -> Answer<Result<Vec<rock::Membership>, Error>> {
        Ok(self.capabilities.rock.active_members(&groups).await)
    }
    async fn tagged_people(&mut self) -> Answer<Result<Vec<rock::PersonTags>, Error>> {
        Ok(self.capabilities.rock.tagged_people().await)
    }
    async fn people(&mut self, ids: Vec<i64>) -> Answer<Result<Vec<rock::Person>, Error>> {
        Ok(self.capabilities.rock.people(&ids).await)
    }
    async fn follow_merges(
        &mut self,
        people: Vec<rock::GonePerson>,
    ) -> Answer<Result<Vec<rock::Merge>, Error>> {
        Ok(self.capabilities.rock.follow_merges(&people).await)
    }
    async fn find_people(
        &mut self,
        queries: Vec<rock::PersonQuery>,
    ) -> Answer<Result<Vec<Vec<rock::Person>>, Error>> {
        Ok(self.capabilities.rock.find_people(&queries).await)
    }
    async fn update_people(
        &mut self,
        updates: Vec<rock::PersonUpdate>,
    ) -> Answer<Vec<Result<(), Error>>> {
        Ok(self.capabilities.rock.update_people(&updates).await)
    }
    async fn create_people(
        &mut self,
        people: Vec<rock::NewPerson>,
    ) -> Answer<Vec<Result<i64, Error>>> {
        Ok(self.capabilities.rock.create_people(&people).await)
    }
    async fn create_or_find_people(
        &mut self,
        people: Vec<rock::NewPerson>,
    ) -> Answer<Vec<Result<rock::FoundOrCreated, Error>>> {
        Ok(self.capabilities.rock.create_or_find_people(&people).await)
    }
    async fn people_with_logins(&mut self, ids: Vec<i64>) -> Answer<Result<Vec<i64>, Error>> {
        Ok(self.capabilities.rock.people_with_logins(&ids).await)
    }
    async fn set_tags(&mut self, tags: Vec<rock::PersonTags>) -> Answer<Vec<Result<(), Error>>> {
        Ok(self.capabilities.rock.set_tags(&tags).await)
    }
    async fn add_members(
        &mut self,
        members: Vec<rock::Membership>,
    ) -> Answer<Vec<Result<(), Error>>> {
        Ok(self.capabilities.rock.add_members(&members).await)
    }
    async fn get_photo(&mut self, id: i64) -> Answer<Result<Option<rock::Photo>, Error>> {
        Ok(self.capabilities.rock.photo(id).await)
    }
}

impl pco::Host for State {
    async fn send(
        &mut self,
        account: String,
        request: pco::Request,
    ) -> Answer<Result<pco::Response, Error>> {
        Ok(self.capabilities.pco.send(&account, &request).await)
    }
    async fn send_batch(
        &mut self,
        account: String,
        requests: Vec<pco::Request>,
    ) -> Answer<Vec<Result<pco::Response, Error>>> {
        Ok(self.capabilities.pco.send_batch(&account, &requests).await)
    }
    async fn upload(
        &mut self,
        account: String,
        content_type: String,
        filename: String,
        bytes: Vec<u8>,
    ) -> Answer<Result<String, Error>> {
        Ok(self
            .capabilities
            .pco
            .upload(&account, &content_type, &filename, &bytes)
            .await)
    }
}

fn internal(error: pcosync::state::StateError) -> Error {
    Error::new(ErrorKind::Internal, error.to_string())
}

impl state::Host for State {
    async fn get(&mut self, keys: Vec<String>) -> Answer<Result<Vec<Option<Vec<u8>>>, Error>> {
        Ok(self
            .capabilities
            .state
            .get(&self.namespace, &keys)
            .map_err(internal))
    }
    async fn scan(
        &mut self,
        prefix: String,
        after: Option<String>,
        limit: u32,
    ) -> Answer<Result<Vec<state::Entry>, Error>> {
        Ok(self
            .capabilities
            .state
            .scan(&self.namespace, &prefix, after.as_deref(), limit)
            .map_err(internal))
    }
    async fn commit(&mut self, writes: Vec<state::Write>) -> Answer<Result<(), Error>> {
        Ok(self
            .capabilities
            .state
            .commit(&self.namespace, &writes)
            .map_err(internal))
    }
}

impl log::Host for State {
    async fn event(
        &mut self,
        level: log::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> Answer<()> {
        self.capabilities.reporter.event(level, &message, &fields);
        Ok(())
    }
    async fn progress(&mut self, task: String, done: u64, total: Option<u64>) -> Answer<()> {
        self.capabilities.reporter.progress(&task, done, total);
        Ok(())
    }
}
