'use strict';

// Drives openhim-mediator-utils against a hub the way a real Node mediator does.
// Prints one JSON line per step; tests/mediators/test_openhim_node.py reads them.
// Env: HUB_URL, HUB_USERNAME, HUB_PASSWORD, MEDIATOR_URN, MEDIATOR_UTILS (which of package.json's
// installs of the package to drive).

const utils = require(process.env.MEDIATOR_UTILS);

const options = {
  apiURL: process.env.HUB_URL,
  username: process.env.HUB_USERNAME,
  password: process.env.HUB_PASSWORD,
  urn: process.env.MEDIATOR_URN,
  trustSelfSigned: true
};

const mediatorConfig = {
  urn: options.urn,
  version: '0.1.0',
  name: 'Node compatibility mediator',
  description: 'Registered by openhim-mediator-utils',
  endpoints: [{name: 'Node mediator', host: '127.0.0.1', port: 9999, type: 'http'}],
  defaultChannelConfig: [],
  configDefs: [{param: 'greeting', displayName: 'Greeting', type: 'string'}],
  config: {greeting: 'hi'}
};

function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function fail(step, err) {
  const status = err && err.response ? err.response.status : null;
  emit({event: 'error', step: step, status: status, message: String(err && err.message)});
  process.exit(1);
}

const giveUp = setTimeout(() => fail('heartbeat', new Error('no config change arrived within 20 s')), 20000);

utils.authenticate(options, (err, challenge) => {
  if (err) return fail('authenticate', err);
  emit({event: 'authenticated', salt: challenge.salt, ts: challenge.ts});

  utils.registerMediator(options, mediatorConfig, (err) => {
    if (err) return fail('register', err);
    emit({event: 'registered'});

    utils.fetchConfig(options, (err, config) => {
      if (err) return fail('fetchConfig', err);
      emit({event: 'config', source: 'fetch', config: config});

      const heartbeat = utils.activateHeartbeat(options, 100);
      heartbeat.on('error', (err) => fail('heartbeat', err));
      heartbeat.on('config', (config) => {
        emit({event: 'config', source: 'heartbeat', config: config});
        // 0.2.x exports only the misspelt name
        (utils.deactivateHeartbeat || utils.deactivateHearbeat)();
        clearTimeout(giveUp);
      });
      emit({event: 'beating'});
    });
  });
});
