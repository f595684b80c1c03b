import { runProgram } from './program';
import { buildProgram } from './tree';

/** `npx pa-data <command>` and the `npm run db:*` aliases of package.json start here, through cli/launch.js. */
const argv = process.argv.slice(2);
void buildProgram(argv).then((program) => runProgram(program, argv, ['OWNER_PASSWORD', 'S3_ADMIN_SECRET_KEY', 'S3_SECRET_KEY', 'S3_BACKUP_SECRET_KEY']));
